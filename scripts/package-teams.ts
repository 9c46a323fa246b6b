/**
 * Builds the Teams app package: `manifest.json` (with the bot's app id filled in) and the
 * two icons at the root of a zip, ready to upload in Teams ("Apps → Manage your apps →
 * Upload an app") or the Teams admin center.
 *
 *   npm run package:teams                      # MicrosoftAppId from the environment
 *   npm run package:teams -- --app-id <guid> --out dist/mde-chatops-teams.zip
 *   npm run package:teams -- --refresh         # rewrite manifest/teams (commandLists, icons)
 *
 * No image or zip library: the icons are drawn here and written with a small PNG encoder
 * (node:zlib deflate + CRC-32), and the zip is written by hand the same way.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync, deflateSync } from 'node:zlib';
import { REGISTRY } from '../src/core/commands/index.js';

export const MANIFEST_DIR = fileURLToPath(new URL('../manifest/teams/', import.meta.url));
export const PLACEHOLDER_ID = '00000000-0000-0000-0000-000000000000';
export const DEFAULT_OUT = 'dist/mde-chatops-teams.zip';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------
// commandLists (from the command table)

/** Teams shows at most this many suggested commands per scope. */
export const MAX_SUGGESTED = 12;

/** The commands Teams suggests, per scope: those whose record says `suggested`. */
export function commandLists() {
  const list = (scope: 'personal' | 'shared') => {
    const commands = REGISTRY.commands.filter((c) => c.suggested?.includes(scope)).map((c) => ({ title: c.name, description: c.summary }));
    if (commands.length > MAX_SUGGESTED) throw new Error(`package-teams: ${commands.length} commands are suggested for ${scope} chats; Teams takes at most ${MAX_SUGGESTED}`);
    return commands;
  };
  return [
    { scopes: ['personal'], commands: list('personal') },
    { scopes: ['team', 'groupChat'], commands: list('shared') },
  ];
}

// ---------------------------------------------------------------------------------------
// manifest

export function readManifestTemplate(dir = MANIFEST_DIR): Record<string, any> {
  return JSON.parse(readFileSync(resolve(dir, 'manifest.json'), 'utf8')) as Record<string, any>;
}

/** The manifest with the app id in `id` and `botId`, and the current commandLists. */
export function buildManifest(template: Record<string, any>, appId: string): Record<string, any> {
  if (!GUID.test(appId)) throw new Error(`MicrosoftAppId must be the bot's app registration id (a GUID), not "${appId}"`);
  const manifest = structuredClone(template);
  manifest.id = appId;
  manifest.bots = (manifest.bots ?? []).map((bot: Record<string, unknown>) => ({ ...bot, botId: appId, commandLists: commandLists() }));
  return manifest;
}

// ---------------------------------------------------------------------------------------
// CRC-32 and PNG

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit RGBA PNG; `pixel(x, y)` gives [r, g, b, a] in 0–255. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => readonly [number, number, number, number]): Buffer {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 4 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = pixel(x, y);
      raw.set([r, g, b, a], row + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, no filter set, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Width, height, bit depth and colour type from a PNG's IHDR. */
export function pngInfo(png: Buffer): { width: number; height: number; bitDepth: number; colorType: number } {
  if (png.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a' || png.subarray(12, 16).toString('ascii') !== 'IHDR') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bitDepth: png[24]!, colorType: png[25]! };
}

// ---------------------------------------------------------------------------------------
// Icons: a shield with a check mark

const BRAND: readonly [number, number, number] = [0x0f, 0x6c, 0xbd];

/** Inside the shield, in unit coordinates (v grows downwards); `inset` shrinks it. */
function inShield(u: number, v: number, inset = 0): boolean {
  const top = 0.14 + inset;
  const shoulder = 0.5;
  const tip = 0.9 - inset * 1.6;
  const half = 0.3 - inset;
  if (v < top || v > tip || half <= 0) return false;
  const d = Math.abs(u - 0.5);
  if (v <= shoulder) return d <= half;
  const t = (v - shoulder) / (tip - shoulder);
  return d <= half * Math.sqrt(Math.max(0, 1 - t * t));
}

function distanceToSegment(u: number, v: number, a: readonly [number, number], b: readonly [number, number]): number {
  const [ax, ay] = a;
  const [bx, by] = b;
  const t = Math.max(0, Math.min(1, ((u - ax) * (bx - ax) + (v - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
  return Math.hypot(u - (ax + t * (bx - ax)), v - (ay + t * (by - ay)));
}

function inCheck(u: number, v: number, width: number): boolean {
  const a = [0.37, 0.5] as const;
  const b = [0.47, 0.61] as const;
  const c = [0.65, 0.38] as const;
  return Math.min(distanceToSegment(u, v, a, b), distanceToSegment(u, v, b, c)) <= width / 2;
}

/** Antialiasing by 4×4 supersampling of a coverage function. */
function coverage(size: number, x: number, y: number, inside: (u: number, v: number) => boolean): number {
  let hits = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (inside((x + (i + 0.5) / 4) / size, (y + (j + 0.5) / 4) / size)) hits++;
  return hits / 16;
}

/** 192×192 full-colour icon: a white shield with a blue check mark on the brand blue. */
export function colorIcon(size = 192): Buffer {
  return encodePng(size, size, (x, y) => {
    const shield = coverage(size, x, y, (u, v) => inShield(u, v) && !inCheck(u, v, 0.075));
    const mix = (bg: number) => Math.round(bg + (255 - bg) * shield);
    return [mix(BRAND[0]), mix(BRAND[1]), mix(BRAND[2]), 255];
  });
}

/** 32×32 outline icon: white shield outline and check mark on transparent. */
export function outlineIcon(size = 32): Buffer {
  return encodePng(size, size, (x, y) => {
    const alpha = coverage(size, x, y, (u, v) => (inShield(u, v) && !inShield(u, v, 0.085)) || (inCheck(u, v, 0.1) && inShield(u, v)));
    return [255, 255, 255, Math.round(alpha * 255)];
  });
}

// ---------------------------------------------------------------------------------------
// Zip (store of deflated files, no extra fields, no zip64)

export function zip(entries: ReadonlyArray<{ name: string; data: Buffer }>, date = new Date()): Buffer {
  const dosTime = (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2);
  const dosDate = ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressed = deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, compressed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // made by
    central.writeUInt16LE(20, 6); // needed
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

// ---------------------------------------------------------------------------------------
// The package

export function buildPackage(appId: string, dir = MANIFEST_DIR): Buffer {
  const manifest = buildManifest(readManifestTemplate(dir), appId);
  return zip([
    { name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { name: manifest.icons.color, data: readFileSync(resolve(dir, manifest.icons.color)) },
    { name: manifest.icons.outline, data: readFileSync(resolve(dir, manifest.icons.outline)) },
  ]);
}

/** Rewrites the repo's manifest (current commandLists) and icons. */
export function refreshManifestDir(dir = MANIFEST_DIR): void {
  const template = readManifestTemplate(dir);
  template.bots = (template.bots ?? []).map((bot: Record<string, unknown>) => ({ ...bot, commandLists: commandLists() }));
  writeFileSync(resolve(dir, 'manifest.json'), `${JSON.stringify(template, null, 2)}\n`);
  writeFileSync(resolve(dir, template.icons.color), colorIcon());
  writeFileSync(resolve(dir, template.icons.outline), outlineIcon());
}

function main(argv: string[]): void {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--refresh')) {
    refreshManifestDir();
    process.stdout.write(`Rewrote ${MANIFEST_DIR}manifest.json (commandLists) and the icons.\n`);
    return;
  }
  const appId = (arg('--app-id') ?? process.env.MicrosoftAppId ?? '').trim();
  if (!appId) {
    process.stderr.write('package-teams: set MicrosoftAppId (the Azure Bot\'s app registration id) or pass --app-id <guid>.\n');
    process.exit(1);
  }
  const out = resolve(arg('--out') ?? DEFAULT_OUT);
  try {
    const data = buildPackage(appId);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, data);
    process.stdout.write(`Teams app package for app id ${appId}: ${out} (${data.length} bytes)\n`);
  } catch (error) {
    process.stderr.write(`package-teams: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));
