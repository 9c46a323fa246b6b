/**
 * Which application permissions (WindowsDefenderATP API) each MDE endpoint the bot calls
 * needs, as Microsoft's API pages list them, and what each chat command needs in all. A
 * 403 names the permissions of the call that failed (http.ts); the README's table is the
 * same as COMMAND_PERMISSIONS.
 */

const READ = 'Machine.Read.All or Machine.ReadWrite.All';

interface EndpointPermissions {
  method: RegExp;
  path: RegExp;
  /** As a sentence fragment: "the application permission …". */
  needs: string;
}

/** First match wins; paths are matched on the URL path (with or without `/api/v1.0`). */
export const ENDPOINT_PERMISSIONS: readonly EndpointPermissions[] = [
  // run-av-scan.md: Machine.Scan. Looking the device up first and following the action need read.
  { method: /^POST$/, path: /\/machines\/[^/]+\/runAntiVirusScan$/i, needs: `Machine.Scan (and ${READ}, to look the device up and follow the scan)` },
  // cancel-machine-action.md: the permission of the action's kind; for AV scans Machine.Scan.
  { method: /^POST$/, path: /\/machineactions\/[^/]+\/cancel$/i, needs: 'Machine.Scan (the permission of the action being cancelled)' },
  // get-machineaction-object.md, get-machineactions-collection.md
  { method: /^GET$/, path: /\/machineactions(\/[^/]+)?$/i, needs: READ },
  // get-machine-by-id.md, get-machines.md
  { method: /^GET$/, path: /\/machines(\/[^/]+)?$/i, needs: READ },
  // Get-scan-history-by-definition.md (a POST that only reads)
  { method: /^POST$/, path: /\/DeviceAuthenticatedScanDefinitions\/GetScanHistoryBy\w+$/i, needs: 'Machine.Read.All' },
  // get-all-scan-definitions.md, get-all-scan-agents.md
  { method: /^GET$/, path: /\/DeviceAuthenticatedScan(Definitions|Agents)(\/[^/]+)?$/i, needs: 'Machine.Read.All' },
  // add-a-new-scan-definition.md: create, update, BatchDelete
  { method: /^(POST|PATCH)$/, path: /\/DeviceAuthenticatedScanDefinitions(\/[^/]+)?$/i, needs: 'Machine.ReadWrite.All' },
];

/** The permissions one call needs, e.g. `POST /api/machines/x/runAntiVirusScan`; null when unknown. */
export function permissionsFor(method: string, pathname: string): string | null {
  const path = pathname.replace(/\/+$/, '');
  return ENDPOINT_PERMISSIONS.find((e) => e.method.test(method.toUpperCase()) && e.path.test(path))?.needs ?? null;
}

/** Per command: the application permissions its MDE calls need together (README, help). */
export const COMMAND_PERMISSIONS: Readonly<Record<string, string>> = {
  'scans list, scans show, scans history': 'Machine.Read.All',
  'scans create, scans update, scans enable, scans disable': 'Machine.ReadWrite.All (it also covers the reads they make)',
  'scans delete': 'Machine.ReadWrite.All',
  'av-scan': 'Machine.Scan, plus Machine.Read.All (or Machine.ReadWrite.All) to look the device up and follow the scan',
};
