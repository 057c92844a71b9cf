import { DatabaseBusyError } from './errors.ts';

/**
 * Queues in front of the database whose waits are bounded like a pool acquire: what waits longer
 * than the acquire timeout (DB_ACQUIRE_TIMEOUT_MS) leaves with DatabaseBusyError, never having run,
 * and the error table answers 503. Under overload or behind a stuck statement clients get fast
 * 503s, as from an exhausted pool, instead of an ever longer queue.
 */

/** A queue member: how its caller is answered. */
export interface Waiting<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export interface GroupQueueOptions<T> {
  /** How many of the waiting members, oldest first, go in the next group (at least 1). */
  groupSize: (waiting: readonly T[]) => number;
  /** Longest wait for a turn before DatabaseBusyError. */
  maxWaitMs: number;
  /** Called each time everything pushed has been run and the queue is empty. */
  onIdle?: () => void;
}

/**
 * One group in flight at a time: what is pushed while it runs waits, and goes in a later group.
 * What is pushed while nothing runs starts a group at once, alone. `run` settles the members of
 * its group; an error it throws is the answer of every member not settled.
 */
export function createGroupQueue<T extends Waiting<never>>(
  run: (group: T[]) => Promise<void>,
  options: GroupQueueOptions<T>,
): (member: T, urgent?: boolean) => void {
  const { groupSize, maxWaitMs, onIdle } = options;
  /**
   * Members that go before every other, alone and without a deadline of their own (a health
   * check, which has its own short timeout): a burst of slow statements must not make the service
   * report itself down.
   */
  const urgent: T[] = [];
  /** Waiting members in arrival order, and when each stops waiting. */
  const members: T[] = [];
  const deadlines: number[] = [];
  let running = false;
  /** One timer, for the member waiting longest. */
  let timer: NodeJS.Timeout | undefined;

  const expire = () => {
    timer = undefined;
    const now = performance.now();
    let expired = 0;
    while (expired < deadlines.length && deadlines[expired]! <= now) expired++;
    deadlines.splice(0, expired);
    for (const member of members.splice(0, expired)) member.reject(new DatabaseBusyError());
    watch();
  };
  const watch = () => {
    if (timer !== undefined || deadlines.length === 0) return;
    timer = setTimeout(expire, Math.max(0, deadlines[0]! - performance.now()));
    timer.unref();
  };

  const drain = async () => {
    running = true;
    try {
      while (urgent.length > 0 || members.length > 0) {
        let group: T[];
        if (urgent.length > 0) group = urgent.splice(0, 1);
        else {
          const size = groupSize(members);
          deadlines.splice(0, size);
          group = members.splice(0, size);
        }
        try {
          await run(group);
        } catch (error) {
          for (const member of group) member.reject(error);
        }
      }
    } finally {
      running = false;
      onIdle?.();
    }
  };
  return (member, isUrgent = false) => {
    if (isUrgent) urgent.push(member);
    else {
      members.push(member);
      deadlines.push(performance.now() + maxWaitMs);
      if (running) watch();
    }
    if (!running) void drain();
  };
}

/**
 * A group queue per key (a record's id, a list's statement text), made when a member of that key
 * arrives and dropped once everything of that key has run: memory holds only keys with work in
 * flight. `run` gets the key with each group.
 */
export function createKeyedGroupQueues<K, T extends Waiting<never>>(
  run: (key: K, group: T[]) => Promise<void>,
  options: Omit<GroupQueueOptions<T>, 'onIdle'>,
): (key: K, member: T) => void {
  const queues = new Map<K, (member: T) => void>();
  return (key, member) => {
    let push = queues.get(key);
    if (!push) {
      const created = createGroupQueue<T>((group) => run(key, group), {
        ...options,
        onIdle: () => {
          if (queues.get(key) === created) queues.delete(key);
        },
      });
      queues.set(key, created);
      push = created;
    }
    push(member);
  };
}

interface Task extends Waiting<unknown> {
  task: () => Promise<unknown>;
}

/** Runs tasks one at a time, in arrival order (a group queue of groups of one). */
export function createSerialQueue(maxWaitMs: number) {
  const push = createGroupQueue<Task>(
    async ([member]) => {
      member!.resolve(await member!.task());
    },
    { groupSize: () => 1, maxWaitMs },
  );
  return <T>(task: () => Promise<T>, urgent = false): Promise<T> =>
    new Promise<T>((resolve, reject) => push({ task, resolve: resolve as (value: unknown) => void, reject }, urgent));
}
