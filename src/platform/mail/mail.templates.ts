import { escapeHtml } from '../http/html.ts';

/** A message ready for Mailer.send: the same content as plain text and as HTML. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailLayout {
  subject: string;
  paragraphs: string[];
  /** One call to action: a link shown as a button in HTML and on its own line in text. */
  action?: { label: string; url: string };
  /** A closing line, e.g. why the recipient got this message. */
  footer?: string;
}

const STYLE = {
  body: 'font-family:system-ui,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;max-width:560px',
  button:
    'display:inline-block;padding:10px 18px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:6px',
  footer: 'color:#59636e;font-size:13px',
};

/**
 * The one layout every email uses. Every value is escaped in the HTML part (names, addresses and
 * links can carry markup); the text part is the same content, with the link written out.
 */
export function renderMail(layout: MailLayout): RenderedMail {
  const text = [...layout.paragraphs];
  const html = layout.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`);
  if (layout.action) {
    text.push(`${layout.action.label}: ${layout.action.url}`);
    html.push(
      `<p><a href="${escapeHtml(layout.action.url)}" style="${STYLE.button}">${escapeHtml(layout.action.label)}</a></p>`,
      `<p style="${STYLE.footer}">Or open this link: ${escapeHtml(layout.action.url)}</p>`,
    );
  }
  if (layout.footer) {
    text.push('--', layout.footer);
    html.push(`<hr><p style="${STYLE.footer}">${escapeHtml(layout.footer)}</p>`);
  }
  return {
    subject: layout.subject,
    text: `${text.join('\n\n')}\n`,
    html: `<!doctype html><html><body style="${STYLE.body}">${html.join('')}</body></html>`,
  };
}

const NOT_YOU = 'If you did not ask for this, you can ignore this email.';

export function verifyEmailMail(link: string): RenderedMail {
  return renderMail({
    subject: 'Confirm your email address for Dashtam',
    paragraphs: ['Welcome to Dashtam. Confirm your email address to finish setting up your account.'],
    action: { label: 'Confirm email address', url: link },
    footer: NOT_YOU,
  });
}

export function passwordResetMail(link: string, validMinutes: number): RenderedMail {
  return renderMail({
    subject: 'Reset your Dashtam password',
    paragraphs: [
      'Someone asked to reset the password of your Dashtam account.',
      `The link works once, for ${validMinutes} minutes.`,
    ],
    action: { label: 'Choose a new password', url: link },
    footer: NOT_YOU,
  });
}

export function passwordChangedMail(): RenderedMail {
  return renderMail({
    subject: 'Your Dashtam password was changed',
    paragraphs: [
      'The password of your Dashtam account was just changed, and your other sessions were signed out.',
      'If you did not do this, reset your password at once and contact your administrator.',
    ],
  });
}

export function emailChangeMail(link: string, validHours: number): RenderedMail {
  return renderMail({
    subject: 'Confirm your new email address for Dashtam',
    paragraphs: [
      'Someone asked to use this address for their Dashtam account.',
      `Confirm it to make the change; the link works once, for ${validHours} hours.`,
    ],
    action: { label: 'Confirm new email address', url: link },
    footer: NOT_YOU,
  });
}
