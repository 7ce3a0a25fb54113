'use strict';
// The jitkey action's launcher: find the binary for this runner (a prebuilt
// one from dist/, checked against dist/SHA256SUMS, or one built from source
// with the runner's Go into the tool cache), run it with an async spawn,
// forward SIGINT and SIGTERM to it, and exit with its code. The main step runs
// jitkey; the post step runs jitkey-post (revoke in a binary that links no
// policy engine, so it starts fast), and only after a mint.
// Dependency-free CommonJS: it runs straight from the action's checkout.

const fs = require('fs');
const path = require('path');
const os = require('os');
const crypto = require('crypto');
const { spawn } = require('child_process');

const GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const GOARCH = { x64: 'amd64', arm64: 'arm64' };

function target(platform = process.platform, arch = process.arch) {
  const goos = GOOS[platform];
  const goarch = GOARCH[arch];
  if (!goos || !goarch) {
    throw new Error(`jitkey: no build for ${platform}/${arch}; supported: linux, darwin, windows on x64 and arm64`);
  }
  return { goos, goarch, exe: goos === 'windows' ? '.exe' : '' };
}

// binaryName is the dist/ file name of command cmd (jitkey or jitkey-post).
function binaryName(t, cmd = 'jitkey') {
  return `${cmd}-${t.goos}-${t.goarch}${t.exe}`;
}

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
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

// prebuilt returns the verified dist/ binary of command cmd, or null when the
// action has no dist/ (a branch or `uses: ./`). A dist/ that is incomplete or
// does not match its checksums is an error: never run an unverified binary.
function prebuilt(root, t, cmd = 'jitkey') {
  const dist = path.join(root, 'dist');
  const sumsFile = path.join(dist, 'SHA256SUMS');
  const name = binaryName(t, cmd);
  const bin = path.join(dist, name);
  if (!fs.existsSync(sumsFile) && !fs.existsSync(bin)) return null;
  if (!fs.existsSync(sumsFile)) throw new Error(`jitkey: ${bin} has no dist/SHA256SUMS beside it; refusing to run an unverified binary`);
  const want = readSums(sumsFile).get(name);
  if (!want) throw new Error(`jitkey: dist/SHA256SUMS lists no ${name}; this release has no build for this runner`);
  if (!fs.existsSync(bin)) throw new Error(`jitkey: dist/SHA256SUMS lists ${name} but the file is missing`);
  const got = sha256File(bin);
  if (got !== want) {
    throw new Error(`jitkey: checksum mismatch for dist/${name}: SHA-256 ${got}, SHA256SUMS says ${want}; refusing to run it`);
  }
  if (process.platform !== 'win32') {
    // Verified above, so making it executable (a checkout may drop the bit) is safe.
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      fs.chmodSync(bin, 0o755);
    }
  }
  return bin;
}

const SKIP = new Set(['.git', 'node_modules', 'dist']);

// sourceHash hashes every file of the source tree (paths and contents),
// skipping .git, dist, node_modules and dot-directories, so a cached build is
// reused only for exactly this source.
function sourceHash(root) {
  const h = crypto.createHash('sha256');
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

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: opts.stdio || 'inherit', env: opts.env || process.env, cwd: opts.cwd });
    const forward = (sig) => () => {
      if (child.exitCode === null) child.kill(sig);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const done = () => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    };
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

// buildFromSource builds ./cmd/<cmd> with the runner's Go into the tool
// cache, keyed by the source tree's hash, and says so.
async function buildFromSource(root, t, env, log, cmd = 'jitkey') {
  const hash = sourceHash(root);
  const cacheRoot = env.RUNNER_TOOL_CACHE || os.tmpdir();
  const dir = path.join(cacheRoot, 'jitkey', `src-${hash.slice(0, 16)}`, `${t.goos}-${t.goarch}`);
  const bin = path.join(dir, `${cmd}${t.exe}`);
  if (fs.existsSync(bin)) {
    log(`jitkey: no prebuilt ${cmd} in dist/; using the build of this source tree (${hash.slice(0, 12)}) cached in ${dir}`);
    return bin;
  }
  log(`jitkey: no prebuilt ${cmd} in dist/ (a branch or uses: ./); building ./cmd/${cmd} from source with the runner's Go into ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  const ldflags = `-s -w -X github.com/jitkey/jitkey/internal/runstep.Version=src-${hash.slice(0, 12)}`;
  let code;
  try {
    code = await run('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, `./cmd/${cmd}`], {
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
  fs.renameSync(tmp, bin);
  return bin;
}

// resolveBinary finds command cmd (jitkey or jitkey-post) for this runner.
async function resolveBinary(root, env = process.env, log = console.log, cmd = 'jitkey') {
  const t = target();
  return prebuilt(root, t, cmd) || buildFromSource(root, t, env, log, cmd);
}

// commandArgs says what a step runs, as { cmd, args }: main runs jitkey with
// INPUT_COMMAND (default mint) and INPUT_ARGS, one argument per line; post
// runs jitkey-post without arguments (what jitkey revoke does), and only
// after mint (null: nothing to do).
function commandArgs(kind, env = process.env) {
  const command = (env.INPUT_COMMAND || '').trim() || 'mint';
  if (kind === 'post') return command === 'mint' ? { cmd: 'jitkey-post', args: [] } : null;
  const extra = (env.INPUT_ARGS || '').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  return { cmd: 'jitkey', args: [command, ...extra] };
}

async function launch(kind, root = path.resolve(__dirname, '..')) {
  try {
    const step = commandArgs(kind);
    if (!step) return 0;
    const bin = await resolveBinary(root, process.env, console.log, step.cmd);
    if (kind === 'main' && step.args[0] === 'mint') {
      // The post step must be able to revoke whatever happens to the job's
      // tools: have its binary ready (verified, or built while Go is surely
      // here) before anything is minted.
      await resolveBinary(root, process.env, console.log, 'jitkey-post');
    }
    return await run(bin, step.args);
  } catch (err) {
    // Workflow-command escaping of the message: % \r \n.
    const msg = String(err.message || err).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    process.stdout.write(`::error title=jitkey launcher::${msg}\n`);
    return 1;
  }
}

module.exports = { target, binaryName, readSums, sha256File, prebuilt, sourceHash, buildFromSource, resolveBinary, run, commandArgs, launch };
