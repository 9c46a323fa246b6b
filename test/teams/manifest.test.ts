/**
 * The Teams app manifest against its JSON schema (v1.29, kept in the repo), the icons'
 * sizes, and the app package the script builds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildManifest, buildPackage, colorIcon, commandLists, crc32, MANIFEST_DIR, outlineIcon, pngInfo, readManifestTemplate } from '../../scripts/package-teams.js';
import { COMMANDS } from '../../src/core/commands/index.js';
import { validate } from '../helpers/teams-json-schema.js';
import { readZip } from '../helpers/teams-zip.js';

const schema = JSON.parse(readFileSync(join(MANIFEST_DIR, 'schema/MicrosoftTeams.schema.json'), 'utf8'));
const APP_ID = '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a';

describe('Teams app manifest', () => {
  it('validates against the v1.29 schema, as kept in the repo and as packaged', () => {
    const template = readManifestTemplate();
    expect(template.manifestVersion).toBe('1.29');
    expect(template.$schema).toContain('/v1.29/');
    expect(validate(schema, template)).toEqual([]);
    expect(validate(schema, buildManifest(template, APP_ID))).toEqual([]);
  });

  it('the validator does catch mistakes', () => {
    const bad = buildManifest(readManifestTemplate(), APP_ID);
    bad.name.short = 'x'.repeat(31);
    bad.bots[0].scopes.push('everywhere');
    bad.accentColor = 'blue';
    bad.unknownMember = true;
    const errors = validate(schema, bad);
    expect(errors.map((e) => e.path)).toEqual(expect.arrayContaining(['/name/short', '/bots/0/scopes/3', '/accentColor']));
    expect(errors.some((e) => e.message.includes('additional properties'))).toBe(true);
  });

  it('one bot in personal, team and group chat scopes, with commandLists from the command table', () => {
    const template = readManifestTemplate();
    expect(template.bots).toHaveLength(1);
    expect(template.bots[0].scopes).toEqual(['personal', 'team', 'groupChat']);
    expect(template.bots[0].commandLists).toEqual(commandLists()); // the repo copy is current (npm run package:teams -- --refresh)
    for (const list of template.bots[0].commandLists) {
      expect(list.commands.length).toBeLessThanOrEqual(12);
      for (const c of list.commands) {
        expect(COMMANDS.find((spec) => spec.name === c.title)?.summary).toBe(c.description);
        expect(c.title.length).toBeLessThanOrEqual(32); // older clients' limit
        expect(c.description.length).toBeLessThanOrEqual(128);
      }
    }
  });

  it('icons: color 192×192 and outline 32×32 RGBA PNGs, the outline white on transparent', () => {
    const template = readManifestTemplate();
    const color = readFileSync(join(MANIFEST_DIR, template.icons.color));
    const outline = readFileSync(join(MANIFEST_DIR, template.icons.outline));
    expect(pngInfo(color)).toMatchObject({ width: 192, height: 192, bitDepth: 8, colorType: 6 });
    expect(pngInfo(outline)).toMatchObject({ width: 32, height: 32, bitDepth: 8, colorType: 6 });
    // The checked-in icons are what the generator draws.
    expect(color.equals(colorIcon())).toBe(true);
    expect(outline.equals(outlineIcon())).toBe(true);
  });

  it('the package: manifest.json and both icons at the root, the app id filled in', () => {
    const entries = readZip(buildPackage(APP_ID));
    expect(entries.map((e) => e.name).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    for (const e of entries) expect(crc32(e.data)).toBe(e.crc);
    const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString('utf8'));
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots[0].botId).toBe(APP_ID);
    expect(validate(schema, manifest)).toEqual([]);
    expect(pngInfo(entries.find((e) => e.name === 'color.png')!.data).width).toBe(192);
  });

  it('npm run package:teams (the script) writes the zip, and refuses a missing or malformed app id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teams-pkg-'));
    try {
      const out = join(dir, 'app.zip');
      const env = { ...process.env, MicrosoftAppId: APP_ID };
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/package-teams.ts', '--out', out], { env, stdio: 'pipe' });
      expect(readZip(readFileSync(out)).map((e) => e.name)).toContain('manifest.json');
      const run = (extra: Record<string, string>, args: string[] = []) => {
        try {
          execFileSync(process.execPath, ['--import', 'tsx', 'scripts/package-teams.ts', '--out', join(dir, 'x.zip'), ...args], { env: { ...process.env, MicrosoftAppId: '', ...extra }, stdio: 'pipe' });
          return '';
        } catch (error) {
          return String((error as { stderr?: Buffer }).stderr);
        }
      };
      expect(run({})).toMatch(/MicrosoftAppId/);
      expect(run({ MicrosoftAppId: 'not-a-guid' })).toMatch(/GUID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
