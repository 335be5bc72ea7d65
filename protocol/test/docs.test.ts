// docs/protocol.md, the shared contract (shared/claw-protocol.md, when it is
// beside the checkout) and protocol/src must agree: every URI, error URI and
// role the code exports is documented, and everything the documents name
// exists in the code.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClawErrors, Command, MachineStatusState, OUTPUTS, Procedures, Roles, TurnResult, VideoErrors, VideoProcedures, machineReleaseUri, machineUris } from '../src/index.js';

const docs = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
const sharedPath = fileURLToPath(new URL('../../../shared/claw-protocol.md', import.meta.url));
const shared = existsSync(sharedPath) ? readFileSync(sharedPath, 'utf8') : undefined;

const found = (text: string, re: RegExp) => new Set([...text.matchAll(re)].map((m) => m[1]!));
const machineTopics = (m: ReturnType<typeof machineUris>) => [m.startTurn, m.endTurn, m.status, m.queue, m.events, m.lines];

t.test('every procedure of the code is in docs/protocol.md, and every documented one in the code', async (t) => {
  const inCode = new Set<string>(Object.values(Procedures));
  for (const uri of inCode) t.ok(docs.includes(`\`${uri}\``), `${uri} documented`);
  for (const uri of found(docs, /`(claw\.(?:machines|queue|turn|admin)\.[a-z_]+)`/g)) t.ok(inCode.has(uri), `${uri} (docs) is in Procedures`);
});

t.test('error URIs: the code and the Errors table are the same set', async (t) => {
  const section = docs.slice(docs.indexOf('## Errors'), docs.indexOf('## Example session'));
  const documented = found(section, /^\| `(claw\.error\.[a-z_]+)`/gm);
  t.same([...documented].sort(), Object.values(ClawErrors).sort());
  for (const uri of found(docs, /(claw\.error\.[a-z_]+)/g)) t.ok((Object.values(ClawErrors) as string[]).includes(uri), `${uri} mentioned in docs exists`);
});

t.test('roles, machine URIs, payload enums', async (t) => {
  const roleRows = found(docs.slice(docs.indexOf('## Roles and credentials')), /^\| `([a-z]+)` \|/gm);
  t.same([...roleRows].sort(), Object.values(Roles).sort(), 'the role table lists exactly the roles');
  for (const uri of machineTopics(machineUris('<id>'))) t.ok(docs.includes(uri), `${uri} documented`);
  t.ok(docs.includes(machineUris('<id>').control('<authid>')), 'control topic documented');
  t.ok(docs.includes(machineReleaseUri('<id>')), 'release documented');
  for (const c of Command.options) t.ok(docs.includes(`"${c}"`), `command ${c}`);
  for (const s of MachineStatusState.options) t.ok(docs.includes(`"${s}"`), `status ${s}`);
  for (const r of TurnResult.options) t.ok(docs.includes(`\`${r}\``), `result ${r}`);
  for (const o of OUTPUTS) t.ok(docs.includes(o), `output ${o}`);
});

t.test('the shared contract: everything it names exists in the code', { skip: shared === undefined ? 'shared/claw-protocol.md is not beside this checkout' : false }, async (t) => {
  const text = shared!;
  for (const uri of found(text, /`(claw\.(?:machines|queue|turn)\.[a-z_]+)`/g)) t.ok((Object.values(Procedures) as string[]).includes(uri), `${uri}`);
  for (const uri of found(text, /`(claw\.admin\.[a-z_]+)`/g)) t.ok((Object.values(Procedures) as string[]).includes(uri), `${uri}`);
  for (const uri of found(text, /(claw\.error\.[a-z_]+)/g)) t.ok((Object.values(ClawErrors) as string[]).includes(uri), `${uri}`);
  for (const role of found(text, /^\| `([a-z]+)` \|/gm)) t.ok((Object.values(Roles) as string[]).includes(role), `role ${role}`);
  for (const uri of machineTopics(machineUris('<id>'))) t.ok(text.includes(uri), `${uri} is in the contract`);
  for (const c of Command.options) t.ok(text.includes(`"${c}"`), `command ${c} is in the contract`);
  for (const r of TurnResult.options) t.ok(text.includes(`"${r}"`), `result ${r} is in the contract`);
});

t.test('live video: every claw.video procedure and error of the code is in docs/protocol.md, and the reverse', async (t) => {
  const procedures = new Set<string>(Object.values(VideoProcedures));
  const errors = new Set<string>(Object.values(VideoErrors));
  for (const uri of [...procedures, ...errors]) t.ok(docs.includes(`\`${uri}\``), `${uri} documented`);
  for (const uri of found(docs, /(claw\.video\.(?:error\.)?[a-z_]+)\b(?!\.)/g)) t.ok(procedures.has(uri) || errors.has(uri), `${uri} (docs) exists in the code`);
});
