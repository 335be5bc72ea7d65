// tap's @tapjs/processinfo surface without the recording (see README.md), for its ESM and CommonJS builds.
const cp = require('node:child_process');

const off = () => new Error('tap\'s process info (--changed, repl, coverage) is off in this repository: see tools/tap-processinfo-off/README.md');
function plain(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options;
  const { externalID: _externalID, ...rest } = options;
  return rest;
}
const withArgs = (fn) => (cmd, args, options, ...rest) => (Array.isArray(args) ? fn(cmd, args, plain(options), ...rest) : fn(cmd, plain(args), options, ...rest));
const spawn = withArgs(cp.spawn);
const spawnSync = withArgs(cp.spawnSync);
const execFile = withArgs(cp.execFile);
const execFileSync = withArgs(cp.execFileSync);
const fork = withArgs(cp.fork);
const exec = (cmd, options, ...rest) => cp.exec(cmd, plain(options), ...rest);
const execSync = (cmd, options) => cp.execSync(cmd, plain(options));

class ProcessInfo {
  static spawn = spawn;
  static spawnSync = spawnSync;
  static exec = exec;
  static execSync = execSync;
  static execFile = execFile;
  static execFileSync = execFileSync;
  static fork = fork;
  static async load() { throw off(); }
  static loadSync() { throw off(); }
  async load() { throw off(); }
}
module.exports = { ProcessInfo, spawn, spawnSync, exec, execSync, execFile, execFileSync, fork };
