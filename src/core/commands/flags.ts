/** Flags several commands share, so each is described once. */
import { flag } from '../command.js';

export const NAME = flag('--name', 'the scan name (quote it when it has spaces)', 'N');
export const TARGET = flag('--target', 'targets, comma-separated: IP addresses or host names', 'T[,T…]');
export const INTERVAL = flag('--interval', 'hours between scans (1–8760)', 'H');
const AGENT = flag('--agent', 'the scanner agent: its machine id (40 hex characters) or its name', 'MACHINE');
const TARGET_TYPE = flag('--target-type', 'what the targets are (default ip)', 'ip|hostname');
const INACTIVE = flag('--inactive', 'create the definition switched off');
export const KEY_VAULT_URL = flag('--key-vault-url', 'Azure Key Vault URL holding the credentials (https)', 'URL');
export const KEY_VAULT_SECRET = flag('--key-vault-secret', 'the name of the Key Vault secret (the name, never the secret itself)', 'NAME');
/** The flags every inline create takes, whatever the scan type. */
export const DEFINITION_FLAGS = [NAME, TARGET, INTERVAL, AGENT, TARGET_TYPE, INACTIVE];
export const BREAK_GLASS = flag('--break-glass', "run at once, without approval: only people named in the policy's break_glass; an approver reviews it afterwards");
export const REASON_REQUIRED = flag('--reason', 'why (required; shown to the approver and kept in the audit log)', '"text"');
