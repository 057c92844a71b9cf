#!/usr/bin/env node
/**
 * Makes the uWebSockets.js linux binaries load on glibc < 2.38 (Debian 12 ships 2.36).
 *
 * The prebuilt binaries import three C23 variants (`__isoc23_strtol`, `__isoc23_strtoul`,
 * `__isoc23_sscanf`), the only symbols that need the `GLIBC_2.38` version. This script, run on
 * `npm install`, rewrites the ELF dynamic symbol table so they bind to the classic functions
 * (same name without the 9-byte `__isoc23_` prefix, so only the name offset moves), marks them
 * unversioned and flags the `GLIBC_2.38` requirement as weak. It touches a binary only when the
 * binary needs it and the running glibc is older than 2.38; a second run changes nothing.
 *
 * Why this is safe: the C23 variants differ from the classic ones only in accepting `0b`
 * binary literals, which uWS never parses. See ../shared/docs/stack-facts.md ("glibc trap").
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const PREFIX = '__isoc23_';
const REPLACEABLE = new Set(['strtol', 'strtoul', 'strtoll', 'strtoull', 'sscanf', 'vsscanf']);
const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 0x2;
const VER_NDX_GLOBAL = 1;

function glibcVersion() {
  const v = process.report?.getReport?.().header?.glibcVersionRuntime;
  if (!v) return null;
  const [major, minor] = v.split('.').map(Number);
  return { major, minor };
}

function cString(buf, offset) {
  const end = buf.indexOf(0, offset);
  return buf.toString('latin1', offset, end);
}

/** Returns a description of the changes made (empty when nothing was needed). */
export function patchElf(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) {
    throw new Error('not a 64-bit little-endian ELF file');
  }
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const base = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(base + 4),
      offset: Number(buf.readBigUInt64LE(base + 0x18)),
      size: Number(buf.readBigUInt64LE(base + 0x20)),
      link: buf.readUInt32LE(base + 0x28),
      info: buf.readUInt32LE(base + 0x2c),
    });
  }
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (!dynsym || !versym || !verneed) return [];
  const dynstr = sections[dynsym.link];
  const verstr = sections[verneed.link];

  // Find the vernaux entry for GLIBC_2.38 (its `other` field is the version index used in versym).
  let target = null;
  let vn = verneed.offset;
  for (let n = 0; n < verneed.info; n++) {
    const cnt = buf.readUInt16LE(vn + 2);
    let aux = vn + buf.readUInt32LE(vn + 8);
    for (let a = 0; a < cnt; a++) {
      const name = cString(buf, verstr.offset + buf.readUInt32LE(aux + 8));
      if (name === 'GLIBC_2.38') target = { aux, index: buf.readUInt16LE(aux + 6) };
      aux += buf.readUInt32LE(aux + 12);
    }
    vn += buf.readUInt32LE(vn + 12);
  }
  if (!target) return [];

  const changes = [];
  const count = dynsym.size / 24;
  const stillNeeding = [];
  for (let i = 0; i < count; i++) {
    const sym = dynsym.offset + i * 24;
    const verOff = versym.offset + i * 2;
    if ((buf.readUInt16LE(verOff) & 0x7fff) !== target.index) continue;
    const nameOff = buf.readUInt32LE(sym);
    const name = cString(buf, dynstr.offset + nameOff);
    const plain = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : null;
    if (plain && REPLACEABLE.has(plain)) {
      buf.writeUInt32LE(nameOff + PREFIX.length, sym);
      buf.writeUInt16LE(VER_NDX_GLOBAL, verOff);
      changes.push(`${name} -> ${plain}`);
    } else {
      stillNeeding.push(name);
    }
  }
  if (stillNeeding.length > 0) {
    throw new Error(`symbols still need GLIBC_2.38: ${stillNeeding.join(', ')}`);
  }
  const flags = buf.readUInt16LE(target.aux + 4);
  if ((flags & VER_FLG_WEAK) === 0) {
    buf.writeUInt16LE(flags | VER_FLG_WEAK, target.aux + 4);
    changes.push('GLIBC_2.38 requirement marked weak');
  }
  return changes;
}

function main() {
  if (process.platform !== 'linux') return;
  const glibc = glibcVersion();
  if (!glibc || glibc.major > 2 || (glibc.major === 2 && glibc.minor >= 38)) return;
  const require = createRequire(import.meta.url);
  let dir;
  try {
    dir = dirname(require.resolve('uWebSockets.js'));
  } catch {
    return; // not installed (e.g. a production install without it): nothing to do
  }
  const pattern = new RegExp(`^uws_linux_${process.arch}_\\d+\\.node$`);
  for (const file of readdirSync(dir).filter((f) => pattern.test(f))) {
    const path = join(dir, file);
    const buf = readFileSync(path);
    const changes = patchElf(buf);
    if (changes.length > 0) {
      writeFileSync(path, buf);
      console.log(`patch-uws-glibc: ${file}: ${changes.join('; ')}`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
