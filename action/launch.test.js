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
const postName = launcher.binaryName(t, 'jitkey-post');
const skipWin = process.platform === 'win32' ? 'shell-script fakes need a POSIX shell' : false;

// fakeAction lays out an action checkout: action/*.js copied from here and,
// when script is given, dist/jitkey-OS-ARCH and dist/jitkey-post-OS-ARCH both
// holding it, each with its SHA256SUMS line. sums replaces the listed sum of
// a binary, by file name.
function fakeAction(script, sums = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-action-'));
  fs.mkdirSync(path.join(root, 'action'));
  for (const f of ['launch.js', 'main.js', 'post.js']) fs.copyFileSync(path.join(__dirname, f), path.join(root, 'action', f));
  if (script !== undefined) {
    fs.mkdirSync(path.join(root, 'dist'));
    let lines = '';
    for (const n of [name, postName]) {
      fs.writeFileSync(path.join(root, 'dist', n), script, { mode: 0o755 });
      lines += `${sums[n] || crypto.createHash('sha256').update(script).digest('hex')}  ${n}\n`;
    }
    fs.writeFileSync(path.join(root, 'dist', 'SHA256SUMS'), `${lines}${'0'.repeat(64)}  jitkey-other-os\n`);
  }
  return root;
}

// runLauncher starts node action/<kind>.js in root and collects its output.
function runLauncher(root, kind, env, onStdout) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'action', `${kind}.js`)], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (onStdout) onStdout(out, child);
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('a checksum mismatch refuses to run the binary', { skip: skipWin }, async () => {
  for (const [kind, bin] of [['main', name], ['post', postName]]) {
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
  fs.chmodSync(path.join(root, 'dist', name), 0o644);
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
  for (const command of [undefined, '', ' mint ']) {
    const env = command === undefined ? {} : { INPUT_COMMAND: command };
    const r = await runLauncher(root, 'post', { ...env, INPUT_ARGS: '--ignored' });
    assert.strictEqual(r.code, 6, 'the exit code of jitkey-post passes through');
    assert.strictEqual(r.out, `ran ${postName} with 0 args: \n`);
  }
  for (const command of ['validate', 'review', 'test']) {
    const r = await runLauncher(root, 'post', { INPUT_COMMAND: command });
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.out, '', `no post work after ${command}`);
  }
  const r = await runLauncher(root, 'main', {});
  assert.strictEqual(r.out, `ran ${name} with 1 args: mint\n`, 'main still runs jitkey');
});

test('commandArgs picks the binary and its arguments', () => {
  assert.deepStrictEqual(launcher.commandArgs('post', {}), { cmd: 'jitkey-post', args: [] });
  assert.deepStrictEqual(launcher.commandArgs('post', { INPUT_COMMAND: 'mint' }), { cmd: 'jitkey-post', args: [] });
  assert.strictEqual(launcher.commandArgs('post', { INPUT_COMMAND: 'review' }), null);
  assert.deepStrictEqual(launcher.commandArgs('main', {}), { cmd: 'jitkey', args: ['mint'] });
  assert.deepStrictEqual(launcher.commandArgs('main', { INPUT_COMMAND: 'validate', INPUT_ARGS: 'a\n\n b ' }), { cmd: 'jitkey', args: ['validate', 'a', 'b'] });
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} is forwarded to the binary and its exit code kept`, { skip: skipWin }, async () => {
    const got = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-sig-')), 'got');
    const script = `#!/bin/sh\ntrap 'echo ${sig} > ${got}; exit 3' ${sig.slice(3)}\necho ready\nwhile :; do sleep 0.05; done\n`;
    const root = fakeAction(script);
    let sent = false;
    const { code } = await runLauncher(root, 'main', {}, (out, child) => {
      if (!sent && out.includes('ready')) {
        sent = true;
        child.kill(sig);
      }
    });
    assert.strictEqual(code, 3, 'the launcher exits with the child code, after the child handled the signal');
    assert.strictEqual(fs.readFileSync(got, 'utf8').trim(), sig);
  });
}

test('without dist/ it builds each binary from source with go into the tool cache, once', { skip: skipWin }, async () => {
  const root = fakeAction();
  for (const cmd of ['jitkey', 'jitkey-post']) {
    fs.mkdirSync(path.join(root, 'cmd', cmd), { recursive: true });
    fs.writeFileSync(path.join(root, 'cmd', cmd, 'main.go'), 'package main\n');
  }
  fs.writeFileSync(path.join(root, 'go.mod'), 'module github.com/jitkey/jitkey\n');
  const bindir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-fakego-'));
  const log = path.join(bindir, 'calls');
  // A fake go: records its arguments and writes a binary that echoes its
  // own name and arguments.
  fs.writeFileSync(path.join(bindir, 'go'), `#!/bin/sh
echo "$* CGO_ENABLED=$CGO_ENABLED PWD=$(pwd)" >> ${log}
while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
printf '#!/bin/sh\\necho "built $(basename "$0"): $*"\\nexit 5\\n' > "$out"
chmod +x "$out"
`, { mode: 0o755 });
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-cache-'));
  const env = { PATH: `${bindir}${path.delimiter}${process.env.PATH}`, RUNNER_TOOL_CACHE: cache };
  const calls = () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const build = /^build -trimpath -ldflags -s -w -X github.com\/jitkey\/jitkey\/internal\/runstep.Version=src-[0-9a-f]{12} -o (\S+) (\S+) CGO_ENABLED=0 PWD=(.*)$/;

  // A mint builds jitkey and, before minting, the post step's jitkey-post
  // beside it, so that post needs no Go of its own.
  let r = await runLauncher(root, 'main', env);
  assert.strictEqual(r.code, 5);
  assert.match(r.out, /building \.\/cmd\/jitkey from source with the runner's Go/);
  assert.match(r.out, /building \.\/cmd\/jitkey-post from source with the runner's Go/);
  assert.match(r.out, /^built jitkey: mint$/m);
  assert.strictEqual(calls().length, 2);
  let m = build.exec(calls()[0]);
  assert.ok(m, calls()[0]);
  assert.strictEqual(m[2], './cmd/jitkey');
  assert.ok([root, fs.realpathSync(root)].includes(m[3]), 'go build runs in the action root');
  m = build.exec(calls()[1]);
  assert.ok(m, calls()[1]);
  assert.strictEqual(m[2], './cmd/jitkey-post');
  assert.strictEqual(path.dirname(build.exec(calls()[0])[1]), path.dirname(m[1]), 'both builds go to the same cache directory');

  // The post step finds jitkey-post built, even without Go.
  const noGo = process.env.PATH.split(path.delimiter).filter((d) => !fs.existsSync(path.join(d, 'go'))).join(path.delimiter);
  r = await runLauncher(root, 'post', { ...env, PATH: noGo });
  assert.strictEqual(r.code, 5);
  assert.match(r.out, /^built jitkey-post: $/m);
  assert.strictEqual(calls().length, 2);

  // Each cached build is reused.
  r = await runLauncher(root, 'post', env);
  assert.strictEqual(r.code, 5);
  assert.match(r.out, /no prebuilt jitkey-post in dist\/; using the build .* cached in/);
  r = await runLauncher(root, 'main', env);
  assert.match(r.out, /^built jitkey: mint$/m);
  assert.strictEqual(calls().length, 2, 'the cached builds are reused');

  // A changed source tree gets a new build.
  fs.writeFileSync(path.join(root, 'cmd', 'jitkey', 'main.go'), 'package main // changed\n');
  r = await runLauncher(root, 'post', env);
  assert.strictEqual(calls().length, 3);
  assert.strictEqual(build.exec(calls()[2])[2], './cmd/jitkey-post');
});

test('without dist/ and without go it says what to do', async () => {
  const root = fakeAction();
  const { code, out } = await runLauncher(root, 'main', { PATH: fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-empty-')), RUNNER_TOOL_CACHE: fs.mkdtempSync(path.join(os.tmpdir(), 'jitkey-c-')) });
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
