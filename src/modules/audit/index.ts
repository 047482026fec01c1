/** The audit module's public surface (other modules import only this). */
export { type AuditRow, canonicalRow, chainHash, GENESIS_HASH } from './audit.chain.ts';
export { auditContextFrom, traceIdFrom } from './audit.context.ts';
export { AuditService } from './audit.service.ts';
export type {
  ActorType,
  AuditActor,
  AuditEventInput,
  AuditEventView,
  AuditListFilters,
  AuditOutcome,
  AuditPage,
  AuditRequestContext,
  ChainVerification,
  RecordedAuditEvent,
} from './audit.types.ts';
