'use strict';
// Tests of the launcher with node's built-in runner: node --test action/
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawn } = require('child_process');
const launcher = require('./launch');

const t = launcher.target();
const name = launcher.binaryName(t);
const mintName = launcher.binaryName(t, 'jitkey-mint');
const postName = launcher.binaryName(t, 'jitkey-post');
const skipWin = process.platform === 'win32' ? 'shell-script fakes need a POSIX shell' : false;

// fakeAction lays out an action checkout: action/*.js copied from here and,
// when script is given, dist/jitkey-OS-ARCH, dist/jitkey-mint-OS-ARCH and
// dist/jitkey-post-OS-ARCH all holding it, each with its SHA256SUMS line. sums replaces the listed sum of
// a binary, by file name.
function fakeAction(script, sums = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-action-'));
  fs.mkdirSync(path.join(root, 'action'));
  for (const f of ['launch.js', 'main.js', 'post.js']) fs.copyFileSync(path.join(__dirname, f), path.join(root, 'action', f));
  if (script !== undefined) {
    fs.mkdirSync(path.join(root, 'dist'));
    let lines = '';
    for (const n of [name, mintName, postName]) {
      fs.writeFileSync(path.join(root, 'dist', n), script, { mode: 0o755 });
      lines += `${sums[n] || crypto.createHash('sha256').update(script).digest('hex')}  ${n}\n`;
    }
    fs.writeFileSync(path.join(root, 'dist', 'SHA256SUMS'), `${lines}${'0'.repeat(64)}  jitkey-other-os\n`);
  }
  return root;
}

// runLauncher starts node action/<kind>.js in root and collects its output:
// { code, signal, out, leftRunning }. On POSIX the launcher leads a process
// group of its own, which its binary joins: once the launcher has exited,
// leftRunning says whether anything of that group still ran (a binary the
// launcher left behind), and the group is killed, so that no test leaves a
// process behind or waits forever for a pipe an orphan holds. A launcher
// still running after LAUNCHER_DEADLINE ms is killed with its group.
const LAUNCHER_DEADLINE = 60000;
function runLauncher(root, kind, env, onStdout) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'action', `${kind}.js`)], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: !skipWin,
    });
    const killGroup = () => {
      try {
        process.kill(skipWin ? child.pid : -child.pid, 'SIGKILL');
        return true;
      } catch {
        return false; // ESRCH: nothing left
      }
    };
    const deadline = setTimeout(killGroup, LAUNCHER_DEADLINE);
    let out = '';
    let leftRunning = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (onStdout) onStdout(out, child);
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', () => {
      clearTimeout(deadline);
      leftRunning = killGroup();
    });
    child.on('close', (code, signal) => resolve({ code, signal, out, leftRunning }));
  });
}

test('a checksum mismatch refuses to run the binary', { skip: skipWin }, async () => {
  for (const [kind, bin] of [['main', mintName], ['post', postName]]) {
    const marker = path.join(os.tmpdir(), `jitkey-ran-${process.pid}-${Date.now()}-${kind}`);
    const root = fakeAction(`#!/bin/sh\ntouch ${marker}\n`, { [bin]: 'f'.repeat(64) });
    const { code, out } = await runLauncher(root, kind, {});
    assert.strictEqual(code, 1, kind);
    assert.ok(out.includes(`::error title=jitkey launcher::jitkey: checksum mismatch for dist/${bin}:`), `${kind}: ${out}`);
    assert.ok(!fs.existsSync(marker), `${kind}: the unverified ${bin} must not run`);
  }
});

test('a verified binary that lost its executable bit still runs', { skip: skipWin }, async () => {
  const root = fakeAction('#!/bin/sh\nexit 4\n');
  fs.chmodSync(path.join(root, 'dist', mintName), 0o644);
  const { code } = await runLauncher(root, 'main', {});
  assert.strictEqual(code, 4);
});

test('a dist/ without an entry for this runner is refused', () => {
  const root = fakeAction('#!/bin/sh\n');
  fs.writeFileSync(path.join(root, 'dist', 'SHA256SUMS'), `${'0'.repeat(64)}  jitkey-plan9-amd64\n`);
  assert.throws(() => launcher.prebuilt(root, t), /lists no jitkey-/);
  assert.throws(() => launcher.prebuilt(root, t, 'jitkey-post'), /lists no jitkey-post-/);
  fs.rmSync(path.join(root, 'dist', 'SHA256SUMS'));
  assert.throws(() => launcher.prebuilt(root, t), /no dist\/SHA256SUMS/);
  assert.throws(() => launcher.prebuilt(root, t, 'jitkey-post'), /jitkey-post-.* has no dist\/SHA256SUMS/);
});

test('a dist/ that lists jitkey-post without the file is refused', () => {
  const root = fakeAction('#!/bin/sh\n');
  fs.rmSync(path.join(root, 'dist', postName));
  assert.throws(() => launcher.prebuilt(root, t, 'jitkey-post'), /lists jitkey-post-.* but the file is missing/);
  assert.strictEqual(launcher.prebuilt(root, t), path.join(root, 'dist', name), 'jitkey itself is still verified and found');
});

test('the exit code and arguments pass through', { skip: skipWin }, async () => {
  const root = fakeAction('#!/bin/sh\necho "args: $*"\nexit 7\n');
  const { code, out } = await runLauncher(root, 'main', { INPUT_COMMAND: 'review', INPUT_ARGS: '--org\n acme \n\n--dry-run' });
  assert.strictEqual(code, 7);
  assert.match(out, /args: review --org acme --dry-run/);
});

test('post runs jitkey-post without arguments after mint and nothing after other commands', { skip: skipWin }, async () => {
  const root = fakeAction('#!/bin/sh\necho "ran $(basename "$0") with $# args: $*"\nexit 6\n');
  let r;
  for (const command of [undefined, '', ' mint ']) {
    const env = command === undefined ? {} : { INPUT_COMMAND: command };
    r = await runLauncher(root, 'post', { ...env, INPUT_ARGS: '--ignored' });
    assert.strictEqual(r.code, 6, 'the exit code of jitkey-post passes through');
    assert.strictEqual(r.out, `ran ${postName} with 0 args: \n`);
  }
  for (const command of ['validate', 'review', 'test']) {
    r = await runLauncher(root, 'post', { INPUT_COMMAND: command });
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.out, '', `no post work after ${command}`);
  }
  r = await runLauncher(root, 'main', {});
  assert.strictEqual(r.out, `ran ${mintName} with 0 args: \n`, 'main runs jitkey-mint');
  r = await runLauncher(root, 'main', { INPUT_COMMAND: 'validate' });
  assert.strictEqual(r.out, `ran ${name} with 1 args: validate\n`, 'other commands run jitkey');
});

// verifiedOnce lays out an action whose binaries touch marker/<name> and
// last changed over a second ago (the age main needs to identify a file by
// its status), runs a mint's main step, and returns the action, the job's
// environment and main's record for the post step.
async function verifiedOnce() {
  const marker = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-marker-'));
  const root = fakeAction(`#!/bin/sh\ntouch ${marker}/$(basename "$0")\n`);
  await new Promise((r) => setTimeout(r, 1200));
  const job = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-job-'));
  const env = { RUNNER_TEMP: job, GITHUB_STATE: path.join(job, 'state') };
  const r = await runLauncher(root, 'main', env);
  assert.strictEqual(r.code, 0, r.out);
  const state = stateOf(env.GITHUB_STATE);
  return { root, marker, env: { ...env, ...state }, rec: JSON.parse(state[`STATE_${launcher.POST_STATE}`]) };
}

// opened runs fn with fs.openSync watched and returns the paths it opened.
async function opened(fn) {
  const open = fs.openSync;
  const paths = [];
  fs.openSync = (p, ...rest) => {
    paths.push(String(p));
    return open(p, ...rest);
  };
  try {
    await fn();
  } finally {
    fs.openSync = open;
  }
  return paths;
}

test('main verifies jitkey-post once for the job; post runs it unread while it is the file main verified', { skip: skipWin }, async () => {
  const { root, marker, env, rec } = await verifiedOnce();
  const post = path.join(root, 'dist', postName);
  assert.strictEqual(rec.path, post);
  assert.strictEqual(rec.sha256, launcher.sha256File(post));
  assert.strictEqual(rec.id, launcher.fileIdentity(fs.lstatSync(post, { bigint: true })));

  const step = launcher.commandArgs('post', {});
  let got;
  const paths = await opened(async () => {
    got = await launcher.resolve('post', step, root, env, () => {});
  });
  assert.strictEqual(got.bin, post);
  assert.ok(!paths.includes(post), `post read the binary main verified: ${paths}`);
  const r = await runLauncher(root, 'post', env);
  assert.strictEqual(r.code, 0, r.out);
  assert.ok(fs.existsSync(path.join(marker, postName)));

  // Without main's record (main was killed before it wrote one), with a
  // record that does not read, or with a record of another action's file,
  // post hashes the binary itself.
  for (const e of [{ ...env, [`STATE_${launcher.POST_STATE}`]: '' }, { ...env, [`STATE_${launcher.POST_STATE}`]: '{not json' },
    { ...env, [`STATE_${launcher.POST_STATE}`]: JSON.stringify({ ...rec, path: `${post}.other` }) }]) {
    const p = await opened(async () => {
      got = await launcher.resolve('post', step, root, e, () => {});
    });
    assert.ok(p.includes(post), 'post hashes what main did not verify');
  }
});

test('a jitkey-post changed after main verified it is hashed again by post and refused', { skip: skipWin }, async () => {
  // What another job running as the runner user could do between the steps:
  // rewrite the file in place or rename another file onto its name, the
  // same size, its times set back. Either changes the file's change time
  // or inode.
  // Times are restored to the nanosecond as touch -r does (utimensat).
  const { execFileSync } = require('child_process');
  const plant = (post, marker) => {
    const ref = `${post}.times`;
    fs.writeFileSync(ref, '');
    execFileSync('touch', ['-r', post, ref]);
    const size = fs.statSync(post).size;
    const script = `#!/bin/sh\ntouch ${marker}/planted\n#`;
    assert.ok(script.length < size);
    return { ref, body: `${script}${'#'.repeat(size - script.length - 1)}\n` };
  };
  const attacks = {
    'rewritten in place, same size, times restored': (post, marker) => {
      const { ref, body } = plant(post, marker);
      fs.writeFileSync(post, body);
      execFileSync('touch', ['-r', ref, post]);
    },
    'replaced by a rename, same size, times restored': (post, marker) => {
      const { ref, body } = plant(post, marker);
      const planted = `${post}.planted`;
      fs.writeFileSync(planted, body, { mode: 0o755 });
      execFileSync('touch', ['-r', ref, planted]);
      fs.renameSync(planted, post);
    },
  };
  for (const [what, attack] of Object.entries(attacks)) {
    const { root, marker, env } = await verifiedOnce();
    attack(path.join(root, 'dist', postName), marker);
    const r = await runLauncher(root, 'post', env);
    assert.strictEqual(r.code, 1, `${what}: ${r.out}`);
    assert.match(r.out, /checksum mismatch for dist\/jitkey-post-.*dist\/SHA256SUMS says/, what);
    assert.ok(!fs.existsSync(path.join(marker, 'planted')), `${what}: the planted binary ran`);
  }
});

test('a jitkey-post that changed just before main verified it is not identified by its status', { skip: skipWin }, async () => {
  const root = fakeAction('#!/bin/sh\n');
  const job = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-job-'));
  const env = { GITHUB_STATE: path.join(job, 'state') };
  assert.strictEqual((await runLauncher(root, 'main', env)).code, 0);
  const rec = JSON.parse(stateOf(env.GITHUB_STATE)[`STATE_${launcher.POST_STATE}`]);
  assert.strictEqual(rec.sha256, launcher.sha256File(path.join(root, 'dist', postName)));
  assert.strictEqual(rec.id, undefined, 'a file changed less than a second before could change again within the same clock tick');
});

test('commandArgs picks the binary and its arguments', () => {
  assert.deepStrictEqual(launcher.commandArgs('post', {}), { cmd: 'jitkey-post', args: [] });
  assert.deepStrictEqual(launcher.commandArgs('post', { INPUT_COMMAND: 'mint' }), { cmd: 'jitkey-post', args: [] });
  assert.strictEqual(launcher.commandArgs('post', { INPUT_COMMAND: 'review' }), null);
  assert.deepStrictEqual(launcher.commandArgs('main', {}), { cmd: 'jitkey-mint', args: [] }, 'a mint runs the mint binary');
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_COMMAND: ' mint ', INPUT_ARGS: '--owner\nacme' }), { cmd: 'jitkey-mint', args: ['--owner', 'acme'] });
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_BROKER: 'https://jitkey.example.com' }), { cmd: 'jitkey-post', args: ['exchange'] }, 'broker mode runs the small binary');
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_BROKER: ' ', INPUT_COMMAND: 'mint' }), { cmd: 'jitkey-mint', args: [] });
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_BROKER: 'https://b', INPUT_COMMAND: 'validate' }), { cmd: 'jitkey', args: ['validate'] });
  assert.deepStrictEqual(launcher.commandArgs('post', { INPUT_BROKER: 'https://b' }), { cmd: 'jitkey-post', args: [] });
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_COMMAND: 'validate', INPUT_ARGS: 'a\n\n b ' }), { cmd: 'jitkey', args: ['validate', 'a', 'b'] });
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} is forwarded to the binary and its exit code kept`, { skip: skipWin, timeout: 2 * LAUNCHER_DEADLINE }, async () => {
    const got = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-sig-')), 'got');
    const script = `#!/bin/sh\ntrap 'echo ${sig} > ${got}; exit 3' ${sig.slice(3)}\necho ready\nwhile :; do sleep 0.05; done\n`;
    const root = fakeAction(script);
    let sent = false;
    const { code, signal, leftRunning } = await runLauncher(root, 'main', {}, (out, child) => {
      if (!sent && out.includes('ready')) {
        sent = true;
        child.kill(sig);
      }
    });
    assert.strictEqual(signal, null, `the launcher handles ${sig}, not killed by it`);
    assert.strictEqual(leftRunning, false, 'the launcher exits only after its binary');
    assert.strictEqual(code, 3, 'the launcher exits with the child code, after the child handled the signal');
    assert.strictEqual(fs.readFileSync(got, 'utf8').trim(), sig);
  });
}

// A signal can reach the launcher at any moment of starting the binary. Here
// it lands inside spawn() itself: reading the environment to pass on (a
// getter of the env object) sends SIGINT to the launcher. Whether the binary
// dies of it or runs its trap depends on how far it got, but the launcher must
// survive it and pass it on, never die and leave a binary that was not told.
test('a signal that arrives while the binary is being started is forwarded', { skip: skipWin, timeout: 2 * LAUNCHER_DEADLINE }, async () => {
  const got = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-sig-')), 'got');
  const root = fakeAction(`#!/bin/sh\ntrap 'echo INT > ${got}; exit 3' INT\nwhile :; do sleep 0.05; done\n`);
  const script = `
const env = { PATH: process.env.PATH };
Object.defineProperty(env, 'MID_SPAWN', { enumerable: true, get() { process.kill(process.pid, 'SIGINT'); return '1'; } });
require(${JSON.stringify(path.join(root, 'action', 'launch.js'))})
  .run(${JSON.stringify(path.join(root, 'dist', mintName))}, [], { env })
  .then((code) => process.exit(code));
`;
  fs.writeFileSync(path.join(root, 'action', 'midspawn.js'), script);
  const { code, signal, leftRunning } = await runLauncher(root, 'midspawn', {});
  assert.strictEqual(signal, null, 'the launcher survives a signal that arrives while it starts the binary');
  assert.strictEqual(leftRunning, false, 'the launcher exits only after its binary');
  if (code === 3) assert.strictEqual(fs.readFileSync(got, 'utf8').trim(), 'INT');
  else assert.strictEqual(code, 128 + os.constants.signals.SIGINT, 'the binary died of the forwarded SIGINT');
});

// sourceAction lays out an action checkout without dist/ (a branch), and a
// fake go that records its arguments and writes a binary that echoes its own
// name and arguments and exits 5.
function sourceAction() {
  const root = fakeAction();
  for (const cmd of ['jitkey', 'jitkey-mint', 'jitkey-post']) {
    fs.mkdirSync(path.join(root, 'cmd', cmd), { recursive: true });
    fs.writeFileSync(path.join(root, 'cmd', cmd, 'main.go'), 'package main\n');
  }
  fs.writeFileSync(path.join(root, 'go.mod'), 'module github.com/jitkey/jitkey\n');
  const bindir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-fakego-'));
  const log = path.join(bindir, 'calls');
  fs.writeFileSync(path.join(bindir, 'go'), `#!/bin/sh
echo "$* CGO_ENABLED=$CGO_ENABLED PWD=$(pwd)" >> ${log}
while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
printf '#!/bin/sh\\necho "built $(basename "$0"): $*"\\nexit 5\\n' > "$out"
chmod +x "$out"
`, { mode: 0o755 });
  const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  const job = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-job-'));
  const env = {
    PATH: `${bindir}${path.delimiter}${process.env.PATH}`,
    RUNNER_TEMP: job,
    RUNNER_TOOL_CACHE: fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-cache-')),
    GITHUB_STATE: path.join(job, 'state'),
  };
  return { root, env, calls };
}

// stateOf reads a GITHUB_STATE file as the runner hands it to post: STATE_<name>.
function stateOf(file) {
  const out = {};
  if (!fs.existsSync(file)) return out;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const value = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
    out[`STATE_${m[1]}`] = value.join('\n');
  }
  return out;
}

const noGoPath = () => process.env.PATH.split(path.delimiter).filter((d) => !fs.existsSync(path.join(d, 'go'))).join(path.delimiter);

test('without dist/ it builds from source into a directory of its own, and post runs what main built', { skip: skipWin }, async () => {
  const { root, env, calls } = sourceAction();
  const build = /^build -trimpath -ldflags -s -w -X github.com\/jitkey\/jitkey\/internal\/runstep.Version=src-[0-9a-f]{12} -o (\S+) (\S+) CGO_ENABLED=0 PWD=(.*)$/;

  // A mint builds jitkey-mint and, before minting, the post step's
  // jitkey-post beside it, so that post needs no Go of its own.
  let r = await runLauncher(root, 'main', env);
  assert.strictEqual(r.code, 5);
  assert.match(r.out, /building \.\/cmd\/jitkey-mint from source with the runner's Go/);
  assert.match(r.out, /building \.\/cmd\/jitkey-post from source with the runner's Go/);
  assert.match(r.out, /^built jitkey-mint: $/m);
  assert.strictEqual(calls().length, 2);
  const m0 = build.exec(calls()[0]);
  const m1 = build.exec(calls()[1]);
  assert.ok(m0 && m1, calls().join('\n'));
  assert.strictEqual(m0[2], './cmd/jitkey-mint');
  assert.strictEqual(m1[2], './cmd/jitkey-post');
  assert.ok([root, fs.realpathSync(root)].includes(m0[3]), 'go build runs in the action root');
  const dir = path.dirname(m0[1]);
  assert.strictEqual(path.dirname(m1[1]), dir, 'both builds go to the same directory');
  assert.strictEqual(path.dirname(dir), fs.realpathSync(env.RUNNER_TEMP), 'the build directory is in the job\'s RUNNER_TEMP');
  assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700, 'only the runner user can enter it');
  const state = stateOf(env.GITHUB_STATE);
  const rec = JSON.parse(state[`STATE_${launcher.POST_STATE}`]);
  assert.strictEqual(rec.path, m1[1]);
  assert.strictEqual(rec.sha256, launcher.sha256File(m1[1]));

  // The post step runs the recorded jitkey-post, even without Go.
  r = await runLauncher(root, 'post', { ...env, ...state, PATH: noGoPath() });
  assert.strictEqual(r.code, 5, r.out);
  assert.match(r.out, /^built jitkey-post: $/m);
  assert.strictEqual(calls().length, 2);

  // A second mint in another step builds again: nothing is reused that this
  // step did not make.
  r = await runLauncher(root, 'main', env);
  assert.strictEqual(r.code, 5);
  assert.strictEqual(calls().length, 4);
  assert.notStrictEqual(path.dirname(build.exec(calls()[2])[1]), dir, 'a fresh directory');
});

test('a binary planted in the shared tool cache or the temporary directory is never run', { skip: skipWin }, async () => {
  const { root, env, calls } = sourceAction();
  const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-planted-')), 'ran');
  const planted = `#!/bin/sh\necho "the planted $(basename "$0") ran" > ${marker}\nexit 0\n`;
  // What another job can write ahead of this one: the tool cache (shared and
  // persistent on self-hosted runners) and the world-writable fallback,
  // under the key the old launcher computed from the public source.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-tmpdir-'));
  const key = `src-${launcher.sourceHash(root).slice(0, 16)}`;
  for (const cache of [env.RUNNER_TOOL_CACHE, tmp]) {
    const dir = path.join(cache, 'jitkey', key, `${t.goos}-${t.goarch}`);
    fs.mkdirSync(dir, { recursive: true });
    for (const cmd of ['jitkey', 'jitkey-mint', 'jitkey-post']) fs.writeFileSync(path.join(dir, cmd), planted, { mode: 0o755 });
  }
  for (const e of [env, { ...env, RUNNER_TOOL_CACHE: '', RUNNER_TEMP: '', TMPDIR: tmp }]) {
    const main = await runLauncher(root, 'main', e);
    assert.ok(!fs.existsSync(marker), `main ran a planted binary: ${main.out}`);
    assert.strictEqual(main.code, 5, main.out);
    const post = await runLauncher(root, 'post', { ...e, ...stateOf(env.GITHUB_STATE) });
    assert.ok(!fs.existsSync(marker), `post ran a planted binary: ${post.out}`);
    assert.strictEqual(post.code, 5, post.out);
    fs.rmSync(env.GITHUB_STATE, { force: true });
  }
  assert.ok(calls().length >= 4, 'every main step built its own binaries');
});

test('post refuses a jitkey-post changed since main built it, and rebuilds without a record', { skip: skipWin }, async () => {
  const { root, env, calls } = sourceAction();
  const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-swapped-')), 'ran');
  assert.strictEqual((await runLauncher(root, 'main', env)).code, 5);
  const state = stateOf(env.GITHUB_STATE);
  const rec = JSON.parse(state[`STATE_${launcher.POST_STATE}`]);
  fs.writeFileSync(rec.path, `#!/bin/sh\ntouch ${marker}\n`);
  let r = await runLauncher(root, 'post', { ...env, ...state });
  assert.strictEqual(r.code, 1);
  assert.match(r.out, /::error title=jitkey launcher::jitkey: checksum mismatch for .*jitkey-post: .*the main step says/);
  assert.ok(!fs.existsSync(marker));

  // A state that names some other file with its true SHA-256 is refused too
  // when another user could have changed the file.
  const loose = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-loose-')), 'jitkey-post');
  fs.writeFileSync(loose, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o777 });
  fs.chmodSync(loose, 0o777);
  r = await runLauncher(root, 'post', { ...env, [`STATE_${launcher.POST_STATE}`]: JSON.stringify({ path: loose, sha256: launcher.sha256File(loose) }) });
  assert.strictEqual(r.code, 1);
  assert.match(r.out, /is writable by other users \(mode 777\)/);
  assert.ok(!fs.existsSync(marker));

  // Without a record (main failed before building), post builds again.
  const before = calls().length;
  r = await runLauncher(root, 'post', env);
  assert.strictEqual(r.code, 5);
  assert.match(r.out, /the main step recorded no jitkey-post build; building it again/);
  assert.strictEqual(calls().length, before + 1);
});

test('a temporary directory writable by everyone without the sticky bit is refused', { skip: skipWin }, async () => {
  const { root, env, calls } = sourceAction();
  const open = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-open-'));
  fs.chmodSync(open, 0o777);
  const r = await runLauncher(root, 'main', { ...env, RUNNER_TEMP: open });
  assert.strictEqual(r.code, 1);
  assert.match(r.out, /the temporary directory .* is writable by other users \(mode 777\)/);
  assert.strictEqual(calls().length, 0, 'nothing was built there');
  fs.chmodSync(open, 0o1777);
  assert.strictEqual((await runLauncher(root, 'main', { ...env, RUNNER_TEMP: open })).code, 5, 'a sticky directory, like /tmp, is fine');
});

test('a dist/ binary that is a symbolic link or writable by others is refused', { skip: skipWin }, async () => {
  const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-dist-')), 'ran');
  const script = `#!/bin/sh\ntouch ${marker}\n`;
  let root = fakeAction(script);
  fs.chmodSync(path.join(root, 'dist', mintName), 0o777);
  let r = await runLauncher(root, 'main', {});
  assert.strictEqual(r.code, 1);
  assert.match(r.out, /the binary .* is writable by other users/);
  root = fakeAction(script);
  const elsewhere = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-link-')), 'bin');
  fs.renameSync(path.join(root, 'dist', mintName), elsewhere);
  fs.symlinkSync(elsewhere, path.join(root, 'dist', mintName));
  r = await runLauncher(root, 'main', {});
  assert.strictEqual(r.code, 1);
  assert.match(r.out, /is a symbolic link/);
  assert.ok(!fs.existsSync(marker));
});

test('without dist/ and without go it says what to do', async () => {
  const root = fakeAction();
  const { code, out } = await runLauncher(root, 'main', { PATH: fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-empty-')), RUNNER_TEMP: fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-c-')) });
  assert.strictEqual(code, 1);
  assert.match(out, /no `go` on PATH: use a release tag/);
});

test('source hash ignores dist, .git and node_modules, and sees every other file', () => {
  const root = fakeAction();
  const h1 = launcher.sourceHash(root);
  fs.mkdirSync(path.join(root, '.git'));
  fs.writeFileSync(path.join(root, '.git', 'HEAD'), 'x');
  fs.mkdirSync(path.join(root, 'dist'));
  fs.writeFileSync(path.join(root, 'dist', 'x'), 'x');
  assert.strictEqual(launcher.sourceHash(root), h1);
  fs.writeFileSync(path.join(root, 'policy.cue'), 'x');
  assert.notStrictEqual(launcher.sourceHash(root), h1);
});

test('targets map node platforms to Go', () => {
  assert.deepStrictEqual(launcher.target('win32', 'x64'), { goos: 'windows', goarch: 'amd64', exe: '.exe' });
  assert.deepStrictEqual(launcher.target('darwin', 'arm64'), { goos: 'darwin', goarch: 'arm64', exe: '' });
  assert.throws(() => launcher.target('aix', 'ppc64'), /no build for aix\/ppc64/);
  assert.strictEqual(launcher.binaryName(launcher.target('linux', 'arm64')), 'jitkey-linux-arm64');
});
