// Which claw nodes are there right now: a machine is online while its node's
// start_turn is registered (registration meta events) and its last status
// (retained topic) is not offline. Memory only: rebuilt from the meta API on
// every (re)connect. Every instance keeps its own from the same events.
import { machineOf, type EventPayload, type StatusPayload } from '@clawgate/protocol';

export interface MachineRuntime {
  id: string;
  /** Registration ids of this machine's start_turn (normally one). */
  registrations: Set<number>;
  status: StatusPayload | undefined;
  /** A start_turn failed: wait for a fresh `ready` before trying again. */
  holdUntilReady: boolean;
  /**
   * The node's last turn_ended, heard by every instance, owner or not: an
   * instance that takes the machine over learns a result the old owner died
   * before recording.
   */
  lastEnded: EventPayload | undefined;
}

export class MachineRegistry {
  private readonly machines = new Map<string, MachineRuntime>();
  private readonly byRegistration = new Map<number, string>();

  get(id: string): MachineRuntime {
    let m = this.machines.get(id);
    if (!m) { m = { id, registrations: new Set(), status: undefined, holdUntilReady: false, lastEnded: undefined }; this.machines.set(id, m); }
    return m;
  }

  has(id: string): boolean { return this.machines.has(id); }
  ids(): string[] { return [...this.machines.keys()]; }

  online(id: string): boolean {
    const m = this.machines.get(id);
    return m !== undefined && m.registrations.size > 0 && m.status !== undefined && m.status.state !== 'offline';
  }

  /** A registration was created for `uri`; returns the machine when it is a start_turn. */
  registered(uri: string, registration: number): string | undefined {
    const id = machineOf(uri, 'start_turn');
    if (id === undefined) return undefined;
    this.get(id).registrations.add(registration);
    this.byRegistration.set(registration, id);
    return id;
  }

  /** A registration is gone; returns the machine whose start_turn it was. */
  unregistered(registration: number): string | undefined {
    const id = this.byRegistration.get(registration);
    if (id === undefined) return undefined;
    this.byRegistration.delete(registration);
    this.machines.get(id)?.registrations.delete(registration);
    return id;
  }

  /** Forget everything learnt from the router (the session to it was lost). */
  clear(): void {
    for (const m of this.machines.values()) { m.registrations.clear(); m.status = undefined; m.holdUntilReady = false; m.lastEnded = undefined; }
    this.byRegistration.clear();
  }
}
