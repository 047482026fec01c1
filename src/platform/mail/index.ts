export {
  emailChangeMail,
  passwordChangedMail,
  passwordResetMail,
  type RenderedMail,
  renderMail,
  verifyEmailMail,
} from './mail.templates.ts';
export { registerMailboxRoutes } from './mailbox.routes.ts';
export { MAIL_JOB, Mailer, type MailerOptions, type MailMessage } from './mailer.service.ts';
