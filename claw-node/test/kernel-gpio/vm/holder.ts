// A process that holds lines through one of the claw node's real drivers
// (LibgpiodDriver or CdevDriver), so that driver.vm.ts can watch the lines from
// outside and kill it with SIGKILL.
// Plan (argv[2], JSON): { kind: 'libgpiod' | 'gpio-cdev', pollMs, drivers: [{ outputs: OutputSpec[], inputs: InputSpec[] }] }
// (several drivers, so one process can hold more lines than one wiring has).
// Commands on stdin, one JSON object a line, each answered on stdout:
//   {"id":1,"set":[driver,"up",true]}   -> {"id":1,"ok":true}
//   {"id":2,"read":[driver,"prize"]}    -> {"id":2,"ok":true,"value":false}
//   {"id":3,"watch":[driver,"prize"]}   -> {"id":3,"ok":true}, then {"edge":[driver,"prize",true],"ts":"…"|null} per edge
//                                          (ts: the kernel's CLOCK_MONOTONIC ns, gpio-cdev only)
//   {"id":4,"close":driver}             -> {"id":4,"ok":true}
import { createInterface } from 'node:readline';
import type { InputName, OutputName } from '@clawgate/protocol';
import { CdevDriver } from '../../../src/gpio/cdev-driver.js';
import type { GpioDriver, InputSpec, OutputSpec } from '../../../src/gpio/driver.js';
import { LibgpiodDriver } from '../../../src/gpio/libgpiod-driver.js';

interface Plan { kind: 'libgpiod' | 'gpio-cdev'; pollMs?: number; drivers: { outputs: OutputSpec[]; inputs: InputSpec[] }[] }
const plan = JSON.parse(process.argv[2] ?? '') as Plan;
const send = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const drivers = plan.drivers.map((d) => {
  const driver: GpioDriver = plan.kind === 'gpio-cdev' ? new CdevDriver({ pollMs: plan.pollMs ?? 2 }) : new LibgpiodDriver({ pollMs: plan.pollMs ?? 2 });
  driver.claimOutputs(d.outputs);
  driver.claimInputs(d.inputs);
  return driver;
});
send({ ready: true, pid: process.pid });

createInterface({ input: process.stdin }).on('line', (l) => {
  const c = JSON.parse(l) as { id: number; set?: [number, OutputName, boolean]; read?: [number, InputName]; watch?: [number, InputName]; close?: number };
  try {
    if (c.set) { drivers[c.set[0]]!.set(c.set[1], c.set[2]); send({ id: c.id, ok: true }); }
    else if (c.read) send({ id: c.id, ok: true, value: drivers[c.read[0]]!.read(c.read[1]) });
    else if (c.watch) {
      const [i, name] = c.watch;
      drivers[i]!.watch(name, (asserted, ts) => send({ edge: [i, name, asserted], ts: ts === undefined ? null : String(ts) }));
      send({ id: c.id, ok: true });
    } else if (c.close !== undefined) { drivers[c.close]!.close(); send({ id: c.id, ok: true }); }
    else send({ id: c.id, ok: false, error: 'unknown command' });
  } catch (e) {
    send({ id: c.id, ok: false, error: (e as Error).message });
  }
});
// Keep running until killed (the test decides how this process ends).
setInterval(() => {}, 1 << 30);
