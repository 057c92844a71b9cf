import { ConstraintViolationException } from '@mikro-orm/core';
import type { SqlClient } from '../db/sql-client.ts';
import { createGroupQueue, type Waiting } from '../db/wait-queue.ts';
import type { PatientDto, PatientInput } from './patient.schemas.ts';
import { insertPatient, insertPatients, patientsById, updatePatient, updatePatientReturningOld } from './patient.sql.ts';

/** Most rows in one statement (keeps statements and their parameter arrays small). */
const MAX_BATCH = 100;

/** Groups take every waiting member, up to MAX_BATCH. */
const upToMaxBatch = (waiting: readonly unknown[]) => Math.min(MAX_BATCH, waiting.length);

/**
 * Creates arriving together are written together ("group insert"), each still all-or-nothing.
 *
 * One insert statement is in flight at a time. The creates that arrive meanwhile are written by
 * the next statement, as one multi-row insert: one round trip and one commit for the batch
 * instead of one each. Under low load a create is written at once, alone. A create that waits
 * longer than the pool's acquire timeout is not written and gets 503 (src/db/wait-queue.ts).
 *
 * A multi-row insert is a single statement, so it stores all of its rows or none. When it breaks
 * a constraint (a patientID already taken, two creates of one patientID in the same batch), every
 * create of the batch is retried on its own, so each client gets exactly the answer it would have
 * had alone (201, 409) and no create fails because of another's data.
 * Any other failure (503, 504) is every create's answer, as it would have been alone.
 *
 * Each create is answered with its own row as stored, matched by its position in the statement,
 * never by a value (see insertPatients): a row that was written always gets its answer.
 */
export interface InsertBatcher {
  /** Stores one patient and resolves with the row as stored. */
  insert(input: PatientInput): Promise<PatientDto>;
}

interface WaitingCreate extends Waiting<PatientDto> {
  input: PatientInput;
}

export function createInsertBatcher(sql: SqlClient): InsertBatcher {
  const writeAlone = (w: WaitingCreate) => insertPatient(sql, w.input).then(w.resolve, w.reject);

  const writeTogether = async (batch: WaitingCreate[]) => {
    let rows: (PatientDto | undefined)[];
    try {
      rows = await insertPatients(sql, batch.map((w) => w.input));
    } catch (error) {
      // A row broke a constraint, so nothing was stored: give every create its own answer. Any
      // other failure (database away, timeout) is every create's answer: retrying each alone
      // would only load a struggling database, and after a lost connection could store twice.
      if (isConstraintViolation(error)) await Promise.all(batch.map(writeAlone));
      else for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const row = rows[i];
      if (row) w.resolve(row);
      else w.reject(new Error('group insert stored no row for this create'));
    });
  };

  const push = createGroupQueue<WaitingCreate>((batch) => (batch.length === 1 ? writeAlone(batch[0]!) : writeTogether(batch)), {
    groupSize: upToMaxBatch,
    maxWaitMs: sql.maxWaitMs,
  });

  return {
    insert: (input) => new Promise<PatientDto>((resolve, reject) => push({ input, resolve, reject })),
  };
}

/**
 * Changes to one patient arriving together are written together, in arrival order.
 *
 * Updates of one row wait for each other in PostgreSQL anyway (row lock, one commit each). Here
 * one update per patient is in flight at a time; the changes queued meanwhile are merged in
 * arrival order and written by one statement that also returns the row as it was before. Each
 * change then gets the row exactly as it stood after that change (the old row, then the queued
 * changes up to and including its own), the answer it would have had if the changes had run
 * one after another. When the merged statement breaks a constraint, the changes are run again one
 * by one, in order, each with its own answer. A change of patientID is never merged. Changes
 * arrive validated by the API schema; beyond it the database checks only patientID's uniqueness.
 * A change that waits longer than the pool's acquire timeout is not written and gets 503
 * (src/db/wait-queue.ts); the changes after it apply as if it had never been sent.
 */
export interface UpdateBatcher {
  /** Sets the given fields; resolves with the row after this change, undefined when no such id. */
  update(id: number, fields: Partial<PatientInput>): Promise<PatientDto | undefined>;
}

interface QueuedChange extends Waiting<PatientDto | undefined> {
  fields: Partial<PatientInput>;
}

export function createUpdateBatcher(sql: SqlClient): UpdateBatcher {
  /** A queue per patient with changes in flight; gone when they are all written. */
  const queues = new Map<number, (change: QueuedChange) => void>();

  const runAlone = (id: number, c: QueuedChange) => updatePatient(sql, id, c.fields).then(c.resolve, c.reject);

  const runTogether = async (id: number, changes: QueuedChange[]) => {
    const sets = changes.map((c) => definedOnly(c.fields));
    const merged: Partial<PatientInput> = Object.assign({}, ...sets);
    let old: PatientDto | undefined;
    try {
      old = await updatePatientReturningOld(sql, id, merged);
    } catch (error) {
      // A constraint was broken, so nothing was written: replay the changes one by one, in order.
      // Any other failure is every change's answer (see the insert batcher).
      if (isConstraintViolation(error)) for (const c of changes) await runAlone(id, c);
      else for (const c of changes) c.reject(error);
      return;
    }
    let state = old;
    changes.forEach((c, i) => {
      if (state) state = { ...state, ...sets[i] };
      c.resolve(state);
    });
  };

  const queueFor = (id: number) => {
    let push = queues.get(id);
    if (!push) {
      const created = createGroupQueue<QueuedChange>((batch) => (batch.length === 1 ? runAlone(id, batch[0]!) : runTogether(id, batch)), {
        groupSize: nextBatchSize,
        maxWaitMs: sql.maxWaitMs,
        onIdle: () => {
          if (queues.get(id) === created) queues.delete(id);
        },
      });
      queues.set(id, created);
      push = created;
    }
    return push;
  };

  return {
    update: (id, fields) => new Promise((resolve, reject) => queueFor(id)({ fields, resolve, reject })),
  };
}

/**
 * Reads of single patients arriving together are answered by one statement ("group read").
 *
 * One read is in flight at a time; the reads that arrive meanwhile are answered together by the
 * next, `where id = any($1)`: one round trip for the group instead of one each. A read never joins
 * a statement already sent, so it sees every write acknowledged before it arrived, as alone. A read
 * that arrives while none is in flight runs at once, alone. A failure (database away, timeout) is
 * every grouped read's answer, as it would have been alone; a read that waits longer than the
 * pool's acquire timeout gets 503 (src/db/wait-queue.ts).
 */
export interface ReadBatcher {
  /** The patient with this id; undefined when there is none. */
  byId(id: number): Promise<PatientDto | undefined>;
}

interface WaitingRead extends Waiting<PatientDto | undefined> {
  id: number;
}

export function createReadBatcher(sql: SqlClient): ReadBatcher {
  const push = createGroupQueue<WaitingRead>(async (group) => {
    const rows = await patientsById(sql, group.map((r) => r.id));
    const found = new Map(rows.map((row) => [row.id, row]));
    for (const r of group) {
      const row = found.get(r.id);
      // Two reads of one id each get their own object: nothing is shared between requests.
      r.resolve(row && { ...row });
    }
  }, { groupSize: upToMaxBatch, maxWaitMs: sql.maxWaitMs });
  return {
    byId: (id) => new Promise((resolve, reject) => push({ id, resolve, reject })),
  };
}

/**
 * How many queued changes to merge: up to MAX_BATCH, but a change of `patientID` runs alone. It is
 * the one field that can clash with another patient, and in a merged statement a later change of
 * it would hide an earlier one's clash (that client would get 200 for a value never stored).
 */
function nextBatchSize(queue: readonly QueuedChange[]): number {
  if (queue[0]!.fields.patientID !== undefined) return 1;
  const clash = queue.findIndex((c) => c.fields.patientID !== undefined);
  return Math.min(MAX_BATCH, clash === -1 ? queue.length : clash);
}

/** Errors that mean "this statement stored nothing because a row broke a rule". */
function isConstraintViolation(error: unknown): boolean {
  return error instanceof ConstraintViolationException;
}

/** The fields a change sets (an undefined key leaves the field as it is). */
function definedOnly(fields: Partial<PatientInput>): Partial<PatientInput> {
  const out: Partial<PatientInput> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  return out;
}
