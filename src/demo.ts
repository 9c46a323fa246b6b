/**
 * Demo mode's users. The Teams ids match the Agents Playground configs in the repo
 * (`playground/operator.yml`, `playground/approver.yml`); the Slack ids are placeholders
 * for a test workspace.
 */
export const DEMO_USERS = {
  operator: { name: 'Olivia Operator', teams: 'teams:11111111-1111-4111-8111-111111111111', slack: 'slack:UDEMOOPER' },
  approver: { name: 'Adam Approver', teams: 'teams:22222222-2222-4222-8222-222222222222', slack: 'slack:UDEMOAPPR' },
} as const;

/** Role lists for demo mode: everyone may look, the two demo users act and approve. */
export const DEMO_ROLES = {
  viewer: ['*'],
  operator: [DEMO_USERS.operator.teams, DEMO_USERS.operator.slack],
  approver: [DEMO_USERS.approver.teams, DEMO_USERS.approver.slack],
};
