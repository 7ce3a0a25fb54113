'use strict';
// The jitkey action's launcher: find the binary for this runner, verified in
// this job, run it with an async spawn, forward the signals that stop a step
// to it, and exit with its code. Each step runs the smallest binary that does
// its work, since each is hashed and started on every job: a mint's main
// step runs jitkey-mint (the mint alone, about half of jitkey's bytes), other
// commands jitkey; the post step runs jitkey-post (revoke in a binary that
// links no policy engine, so it starts fast), and only after a mint.
//
// Never run a file this job did not verify. A binary comes from one of:
//  - dist/ of the action's own tree (a release): checked against
//    dist/SHA256SUMS from the same tree, so the sums are pinned by the commit
//    the workflow pins; main checks the binary it runs and, while a mint
//    runs, jitkey-post too, recording what it verified (path, SHA-256 and the
//    file's identity: device, inode, size, modification and change times) in
//    the step state; post runs jitkey-post unread only if the file still has
//    that identity, and hashes it otherwise (see unchanged).
//  - a build from source (a branch, `uses: ./`): the runner's Go builds into a
//    directory the launcher has just created for this step (mode 0700, owned
//    by the runner user). No shared or persistent cache is ever run: another
//    job (a self-hosted runner's tool cache outlives jobs) could have planted
//    it. Main records the jitkey-post it built, path and SHA-256, in the step
//    state, which only this job's runner writes and only this step's post
//    reads; post runs that file only if it still has that SHA-256, and
//    rebuilds otherwise.
// Dependency-free CommonJS: it runs straight from the action's checkout.

const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn } = require('child_process');

// crypto is loaded when first needed (~4 ms of a post step that finds its
// binary unchanged and hashes nothing).
let cryptoModule;
const crypto = () => (cryptoModule ||= require('crypto'));

const GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const GOARCH = { x64: 'amd64', arm64: 'arm64' };

// POST_STATE is the step-state name under which main records the jitkey-post
// it verified or built for the post step: {"path": ..., "sha256": ...,
// "id": ...} (id: see fileIdentity; absent when the file changed too
// recently to be identified by it).
const POST_STATE = 'jitkey_launcher_post';

// IDENTITY_AGE is how long before its verification a file must have last
// changed for its identity to stand for its content (ms). Any change to a
// file (a write, a truncation, a chmod, a rename onto its name) sets its
// change time to the kernel's clock, which no unprivileged process can set
// back and which lags the clock node reads by at most a tick: a file that
// changed at least this long before main hashed it and has the same change
// time at post has not changed since main hashed it.
const IDENTITY_AGE = 1000n;

function target(platform = process.platform, arch = process.arch) {
  const goos = GOOS[platform];
  const goarch = GOARCH[arch];
  if (!goos || !goarch) {
    throw new Error(`jitkey: no build for ${platform}/${arch}; supported: linux, darwin, windows on x64 and arm64`);
  }
  return { goos, goarch, exe: goos === 'windows' ? '.exe' : '' };
}

// binaryName is the dist/ file name of command cmd (jitkey, jitkey-mint or
// jitkey-post).
function binaryName(t, cmd = 'jitkey') {
  return `${cmd}-${t.goos}-${t.goarch}${t.exe}`;
}

// sha256File streams the file through SHA-256, 64 KiB at a time, so hashing
// a 20 MB binary does not hold it in memory. A buffer that stays in the CPU's
// cache while it is read into and hashed costs about a quarter less CPU than
// a 1 MiB one (20 vs 27 ms for jitkey-mint, measured on an AMD EPYC).
function sha256File(file) {
  return hashFile(file).sha256;
}

// hashFile is sha256File that also returns the status of the file it read
// (fstat of the open file after the last byte), as { sha256, st } with
// bigint times.
function hashFile(file) {
  const h = crypto().createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 << 10);
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    return { sha256: h.digest('hex'), st: fs.fstatSync(fd, { bigint: true }) };
  } finally {
    fs.closeSync(fd);
  }
}

// fileIdentity names a file's content without reading it: device, inode,
// size, and modification and change times in nanoseconds.
function fileIdentity(st) {
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
}

// readSums parses sha256sum output: "<hex>  <name>" (or "<hex> *<name>").
function readSums(file) {
  const sums = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}

const posix = process.platform !== 'win32';

// checkOwned refuses a file or directory another user could change between
// the launcher's check and the run: a symbolic link, something not owned by
// the runner user (a directory may be root's), or writable by others (a
// directory: unless sticky, like /tmp) or by another group. On Windows, where
// these modes do not apply, it only refuses links.
function checkOwned(p, what) {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) throw new Error(`jitkey: ${what} ${p} is a symbolic link; refusing to run a binary through it`);
  if (!posix) return st;
  const uid = process.getuid();
  if (st.uid !== uid && !(st.isDirectory() && st.uid === 0)) {
    throw new Error(`jitkey: ${what} ${p} is owned by uid ${st.uid}, not the runner user (uid ${uid}); refusing it`);
  }
  // Writable by others (a directory: unless sticky), or by a group that is
  // not the runner user's own.
  const others = st.mode & 0o002 && !(st.isDirectory() && st.mode & 0o1000);
  const group = st.mode & 0o020 && st.gid !== process.getgid();
  if (others || group) {
    throw new Error(`jitkey: ${what} ${p} is writable by other users (mode ${(st.mode & 0o7777).toString(8)}); another job could replace the binary; refusing it`);
  }
  return st;
}

// checkRunnable checks the file to run and the directory holding it.
function checkRunnable(bin) {
  checkOwned(path.dirname(bin), 'the directory of');
  const st = checkOwned(bin, 'the binary');
  if (!st.isFile()) throw new Error(`jitkey: ${bin} is not a regular file`);
}

// verified returns bin if its SHA-256 is want (as source says), else throws.
function verified(bin, want, source, label = bin) {
  verify(bin, want, source, label);
  return bin;
}

// verify checks bin as verified does and returns the identity of the file
// it hashed (fileIdentity), or undefined when that identity cannot stand
// for the content (see IDENTITY_AGE; on Windows, always).
function verify(bin, want, source, label = bin) {
  const start = BigInt(Date.now()) * 1000000n;
  checkRunnable(bin);
  const { sha256: got, st } = hashFile(bin);
  if (got !== want) {
    throw new Error(`jitkey: checksum mismatch for ${label}: SHA-256 ${got}, ${source} says ${want}; refusing to run it`);
  }
  if (!posix) return undefined;
  // Verified above, so making it executable (a checkout may drop the bit) is
  // safe; the chmod sets the change time, so the file is not identified.
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    fs.chmodSync(bin, 0o755);
    return undefined;
  }
  // The name must still lead to the file hashed, unchanged, and that file
  // must have changed long enough ago.
  const id = fileIdentity(st);
  if (fileIdentity(fs.lstatSync(bin, { bigint: true })) !== id || st.ctimeNs > start - IDENTITY_AGE * 1000000n) return undefined;
  return id;
}

// unchanged reports whether the file at bin is the one main verified for
// the post step with SHA-256 want: rec (main's record) names it with that
// SHA-256 and an identity the file still has. Its owner and mode are checked
// as for any run.
function unchanged(rec, bin, want) {
  if (!posix || !rec || !rec.id || rec.path !== bin || rec.sha256 !== want) return false;
  checkRunnable(bin);
  return fileIdentity(fs.lstatSync(bin, { bigint: true })) === rec.id;
}

// prebuilt returns dist/'s binary of command cmd, verified against
// dist/SHA256SUMS, or null when the action has no dist/ (a branch or
// `uses: ./`). With check 'listed' it only checks that the sums list it and
// returns { bin, want }: the path and its listed SHA-256. A dist/ that is
// incomplete or does not match its checksums is an error: never run an
// unverified binary.
function prebuilt(root, t, cmd = 'jitkey', check = 'hash') {
  const dist = path.join(root, 'dist');
  const sumsFile = path.join(dist, 'SHA256SUMS');
  const name = binaryName(t, cmd);
  const bin = path.join(dist, name);
  if (!fs.existsSync(sumsFile) && !fs.existsSync(bin)) return null;
  if (!fs.existsSync(sumsFile)) throw new Error(`jitkey: ${bin} has no dist/SHA256SUMS beside it; refusing to run an unverified binary`);
  const want = readSums(sumsFile).get(name);
  if (!want) throw new Error(`jitkey: dist/SHA256SUMS lists no ${name}; this release has no build for this runner`);
  if (!fs.existsSync(bin)) throw new Error(`jitkey: dist/SHA256SUMS lists ${name} but the file is missing`);
  if (check === 'listed') return { bin, want, label: `dist/${name}` };
  return verified(bin, want, 'dist/SHA256SUMS', `dist/${name}`);
}

const SKIP = new Set(['.git', 'node_modules', 'dist']);

// sourceHash hashes every file of the source tree (paths and contents),
// skipping .git, dist, node_modules and dot-directories: a build from source
// is stamped with it as its version.
function sourceHash(root) {
  const h = crypto().createHash('sha256');
  const walk = (dir, rel) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (SKIP.has(e.name) || (e.isDirectory() && e.name.startsWith('.'))) continue;
      const p = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else if (e.isFile()) {
        h.update(r + '\0');
        h.update(fs.readFileSync(p));
        h.update('\0');
      }
    }
  };
  walk(root, '');
  return h.digest('hex');
}

// STOP_SIGNALS are the ways a step is stopped that a child can act on:
// the runner's cancel (SIGINT, then SIGTERM) and the end of the step's
// terminal session (SIGHUP; act kills the launcher, and the pty hangs up).
const STOP_SIGNALS = posix ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGBREAK'];

// run runs cmd and resolves to its exit code (128+n if killed by signal n),
// forwarding STOP_SIGNALS to it. The handlers are in place before the child
// is spawned: a signal that arrived between the spawn and their registration
// took the default action, killing the launcher and leaving the child
// running, never told of the cancel. Node runs a handler from its event loop,
// so a handler always sees the spawned child.
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    let child;
    const handlers = STOP_SIGNALS.map((sig) => {
      const h = () => {
        if (child && child.exitCode === null) child.kill(sig === 'SIGBREAK' ? 'SIGINT' : sig);
      };
      process.on(sig, h);
      return [sig, h];
    });
    const done = () => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
    };
    try {
      child = spawn(cmd, args, { stdio: opts.stdio || 'inherit', env: opts.env || process.env, cwd: opts.cwd });
    } catch (err) {
      done();
      throw err;
    }
    child.on('error', (err) => {
      done();
      reject(err);
    });
    child.on('close', (code, signal) => {
      done();
      if (code !== null) resolve(code);
      else resolve(128 + (os.constants.signals[signal] || 1));
    });
  });
}

// privateDir makes a directory for this step's builds that no other user or
// job can have prepared: a fresh random name (mkdtemp fails rather than
// reuse), mode 0700, owned by the runner user, in RUNNER_TEMP (emptied for
// every job) or the system's temporary directory. A parent writable by
// others without the sticky bit is refused: another user could rename the
// directory away and put theirs in its place.
function privateDir(env) {
  const base = fs.realpathSync(env.RUNNER_TEMP || os.tmpdir());
  checkOwned(base, 'the temporary directory');
  const dir = fs.mkdtempSync(path.join(base, 'jitkey-build-'));
  if (posix) fs.chmodSync(dir, 0o700);
  checkOwned(dir, 'the build directory');
  return dir;
}

// buildFromSource builds ./cmd/<cmd> with the runner's Go into dir and
// returns the binary's path and SHA-256.
async function buildFromSource(root, t, env, log, cmd, dir, version) {
  const bin = path.join(dir, `${cmd}${t.exe}`);
  log(`jitkey: no prebuilt ${cmd} in dist/ (a branch or uses: ./); building ./cmd/${cmd} from source with the runner's Go into ${dir}, a directory made for this step`);
  const ldflags = `-s -w -X github.com/jitkey/jitkey/internal/runstep.Version=src-${version}`;
  let code;
  try {
    code = await run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', bin, `./cmd/${cmd}`], {
      cwd: root,
      env: { ...env, CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new Error('jitkey: no prebuilt binary in dist/ and no `go` on PATH: use a release tag (uses: jitkey/jitkey@v1) or add actions/setup-go before this step');
    }
    throw err;
  }
  if (code !== 0) throw new Error(`jitkey: go build ./cmd/${cmd} failed (exit ${code})`);
  checkRunnable(bin);
  return { bin, sha256: sha256File(bin) };
}

// saveState appends name=value to the step state file (GITHUB_STATE), in
// the runner's NAME<<DELIMITER form with a random delimiter; post sees it as
// STATE_<name>. Without a state file (outside Actions) it does nothing.
function saveState(env, name, value) {
  if (!env.GITHUB_STATE) return;
  const delim = `ghadelimiter_${crypto().randomUUID()}`;
  fs.appendFileSync(env.GITHUB_STATE, `${name}<<${delim}${os.EOL}${value}${os.EOL}${delim}${os.EOL}`);
}

// postRecord returns the record main left in the step state for the post
// step (see POST_STATE), or null when it left none.
function postRecord(env) {
  const raw = env[`STATE_${POST_STATE}`];
  if (!raw) return null;
  let rec;
  try {
    rec = JSON.parse(raw);
  } catch {
    rec = null;
  }
  if (!rec || typeof rec.path !== 'string' || !/^[0-9a-f]{64}$/.test(rec.sha256 || '') || (rec.id !== undefined && typeof rec.id !== 'string')) {
    throw new Error(`jitkey: the step state ${POST_STATE} is not what the main step wrote; refusing it`);
  }
  return rec;
}

// resolve finds the binaries a step runs: { bin } to run, verified in this
// job. For a main step that mints, it also readies jitkey-post for the post
// step before anything is minted: listed in dist/SHA256SUMS (returned as
// post: { bin, want, label }, for main to verify while the mint runs), or
// built from source and recorded in the step state. The post step runs
// jitkey-post without reading it when main's record says it verified that
// very file (unchanged), and hashes it otherwise.
async function resolve(kind, cmd, root, env = process.env, log = console.log) {
  const t = target();
  // A mint, direct or through a broker (exchange), has a post step to ready.
  const mint = kind === 'main' && (cmd.cmd === 'jitkey-mint' || cmd.args[0] === 'exchange');
  if (kind === 'post') {
    const dist = prebuilt(root, t, 'jitkey-post', 'listed');
    if (dist) {
      // dist/SHA256SUMS settles what runs: a record that does not read only
      // means the binary is hashed, as it was before main kept records.
      let rec = null;
      try {
        rec = postRecord(env);
      } catch {
        // hashed below
      }
      return { bin: unchanged(rec, dist.bin, dist.want) ? dist.bin : verified(dist.bin, dist.want, 'dist/SHA256SUMS', dist.label) };
    }
    const rec = postRecord(env);
    if (rec) return { bin: unchanged(rec, rec.path, rec.sha256) ? rec.path : verified(rec.path, rec.sha256, 'the main step') };
    log('jitkey: the main step recorded no jitkey-post build; building it again');
  } else {
    const bin = prebuilt(root, t, cmd.cmd);
    if (bin) return mint ? { bin, post: prebuilt(root, t, 'jitkey-post', 'listed') } : { bin };
  }
  const dir = privateDir(env);
  const version = sourceHash(root).slice(0, 12);
  const built = await buildFromSource(root, t, env, log, cmd.cmd, dir, version);
  if (mint) {
    const post = cmd.cmd === 'jitkey-post' ? built : await buildFromSource(root, t, env, log, 'jitkey-post', dir, version);
    saveState(env, POST_STATE, JSON.stringify({ path: post.bin, sha256: post.sha256 }));
  }
  return { bin: built.bin };
}

// verifyForPost verifies dist's jitkey-post (post: { bin, want, label }) for
// the post step and returns the record to keep in the step state, or null
// when it cannot be verified now (post then says why, and refuses it).
function verifyForPost(post) {
  try {
    const id = verify(post.bin, post.want, 'dist/SHA256SUMS', post.label);
    return { path: post.bin, sha256: post.want, ...(id && { id }) };
  } catch {
    return null;
  }
}

// commandArgs says what a step runs, as { cmd, args }: main runs jitkey with
// INPUT_COMMAND (default mint) and INPUT_ARGS, one argument per line, and a
// mint in jitkey-mint (jitkey mint's arguments); post runs jitkey-post
// without arguments (what jitkey revoke does), and only after mint (null:
// nothing to do).
// In broker mode (input broker set) main runs `jitkey-post exchange`: the
// broker holds the App key and the policies, so the job needs neither.
function commandArgs(kind, env = process.env) {
  const command = (env.INPUT_COMMAND || '').trim() || 'mint';
  if (kind === 'post') return command === 'mint' ? { cmd: 'jitkey-post', args: [] } : null;
  if (command === 'mint' && (env.INPUT_BROKER || '').trim()) return { cmd: 'jitkey-post', args: ['exchange'] };
  const extra = (env.INPUT_ARGS || '').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  if (command === 'mint') return { cmd: 'jitkey-mint', args: extra };
  return { cmd: 'jitkey', args: [command, ...extra] };
}

async function launch(kind, root = path.resolve(__dirname, '..')) {
  try {
    const step = commandArgs(kind);
    if (!step) return 0;
    const { bin, post } = await resolve(kind, step, root);
    const running = run(bin, step.args);
    // While the mint runs (its network round trips leave a core idle), main
    // verifies jitkey-post once for this job, so that post need not read it.
    const rec = post && verifyForPost(post);
    const code = await running;
    if (rec) saveState(process.env, POST_STATE, JSON.stringify(rec));
    return code;
  } catch (err) {
    // Workflow-command escaping of the message: % \r \n.
    const msg = String(err.message || err).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    process.stdout.write(`::error title=jitkey launcher::${msg}\n`);
    return 1;
  }
}

module.exports = {
  POST_STATE, target, binaryName, readSums, sha256File, fileIdentity, prebuilt, sourceHash, buildFromSource, privateDir,
  checkOwned, resolve, run, commandArgs, launch,
};
