/**
 * The failure causes of an AV scan in words: the HRESULTs MDE reports most often for
 * `RunAntiVirusScan`, and what to do next. One table, used by the tracker's progress text
 * and the approval card's next step.
 */

export interface Cause {
  /** What went wrong, in words ("the device is offline"). */
  text: string;
  /** What to do next. */
  next: string;
}

const CAUSES: Record<number, Cause> = {
  0x80004005: { text: 'the scan failed on the device (unspecified error)', next: 'Check the device in the Defender portal (health, last seen), then request the scan again.' },
  0x80070005: { text: 'access was denied on the device', next: 'Check that tamper protection or a local policy is not blocking scans, then request again.' },
  0x800106ba: { text: 'the Microsoft Defender Antivirus service is not running on the device', next: 'Start the Defender Antivirus service (or check a third-party antivirus), then request again.' },
  0x80070015: { text: 'the device was not ready', next: 'Wait until the device has finished starting, then request again.' },
  0x8007045b: { text: 'the device was shutting down', next: 'Request the scan again once the device is back online.' },
  0x800705b4: { text: 'the scan timed out on the device', next: 'Try a quick scan, or request again when the device is less busy.' },
  0x80072ee2: { text: 'the device could not reach the Defender service in time (timed out)', next: 'Check the device’s network connection to Defender, then request again.' },
  0x80072efd: { text: 'the device could not connect to the Defender service (device offline)', next: 'Check that the device is online, then request again.' },
  0x80508023: { text: 'the antivirus engine could not start the scan', next: 'Update the Defender platform and engine on the device, then request again.' },
};

export const OFFLINE: Cause = { text: 'the device did not pick up the scan in time (device offline or timed out)', next: 'Check when the device was last seen; request the scan again once it is online.' };
export const CANCELLED: Cause = { text: 'the scan was cancelled', next: 'Request the scan again if it is still needed.' };
export const UNKNOWN: Cause = { text: 'the scan failed on the device', next: 'Check the device in the Defender portal, then request the scan again.' };

/** `-2147467259` → `0x80004005`. */
export function hresultHex(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** The cause of a failed or timed-out action, in words. */
export function causeOf(status: string, hresult?: number | null): Cause {
  if (status === 'TimeOut') return OFFLINE;
  if (status === 'Cancelled') return CANCELLED;
  if (hresult) return CAUSES[hresult >>> 0] ?? { ...UNKNOWN, text: `${UNKNOWN.text} (error ${hresultHex(hresult)})` };
  return UNKNOWN;
}
