// Which Node the suite runs on (issue 21). `.ci/tap-on.sh NODE_BIN` runs tap
// on a chosen Node and sets CLAWGATE_EXPECT_NODE to its version: this test
// file, a child started with process.execPath (as the CLI tests start the
// bins), and `node`, `npm` and `npx` found on PATH (guest workers, the claw
// node's pack test) must all be that Node; otherwise the run would test
// another one without saying so. Run plainly, they must all be the Node that
// runs this file.
import t from 'tap';
import { execFileSync } from 'node:child_process';

const expected = process.env.CLAWGATE_EXPECT_NODE ?? process.version;
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

t.comment(`this run is on Node ${process.version} (${process.execPath})`);

t.test('every Node process of the run is the one asked for', async (t) => {
  t.equal(process.version, expected, 'the test file');
  t.equal(run(process.execPath, ['-p', 'process.version']), expected, 'a child started with process.execPath');
  t.equal(run('node', ['-p', 'process.version']), expected, '`node` on PATH');
  // npm passes its own Node in the user agent it gives the commands it runs.
  const [agent, child] = run('npx', ['-c', 'echo "$npm_config_user_agent"; node -p process.version']).split('\n');
  t.match(agent, new RegExp(` node/${expected.replace(/\./g, '\\.')} `), '`npx` (and npm) on PATH');
  t.equal(child, expected, '`node` in a command npx runs');
});
