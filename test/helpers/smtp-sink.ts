import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message as sent after DATA (headers, blank line, MIME body). */
  raw: string;
}

export interface SmtpSink {
  url: string;
  messages: ReceivedMail[];
  /** Answer the next n MAIL FROM commands with a temporary failure (451). */
  failNext: number;
}

/**
 * Just enough of an SMTP server (RFC 5321) on 127.0.0.1 for nodemailer to deliver to: EHLO/HELO,
 * MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT. No TLS and no AUTH are offered, so the client
 * sends in plain text without logging in. Closed when the test ends.
 */
export async function startSmtpSink(t: TestContext): Promise<SmtpSink> {
  const sockets = new Set<Socket>();
  const sink: SmtpSink = { url: '', messages: [], failNext: 0 };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let current: ReceivedMail = { from: '', to: [], raw: '' };
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 sink.test ESMTP ready');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          // Undo dot-stuffing: a line starting with ".." was a line starting with ".".
          current.raw = buffer.slice(0, end).replace(/\r\n\.\./g, '\r\n.');
          buffer = buffer.slice(end + 5);
          inData = false;
          sink.messages.push(current);
          current = { from: '', to: [], raw: '' };
          reply('250 2.0.0 queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol === -1) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-sink.test\r\n250 8BITMIME');
        else if (verb === 'HELO' || verb === 'NOOP') reply('250 ok');
        else if (verb === 'RSET') {
          current = { from: '', to: [], raw: '' };
          reply('250 ok');
        } else if (verb === 'MAIL') {
          if (sink.failNext > 0) {
            sink.failNext--;
            reply('451 4.3.0 sink is temporarily refusing mail');
          } else {
            current.from = /<([^>]*)>/.exec(line)?.[1] ?? '';
            reply('250 ok');
          }
        } else if (verb === 'RCPT') {
          current.to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 ok');
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else reply('502 5.5.2 not implemented');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return sink;
}

/** Decodes a quoted-printable body part (soft line breaks and =XX escapes). */
export function decodeQuotedPrintable(text: string): string {
  const bytes = text
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** The decoded body of the MIME part with this content type, or undefined. */
export function mimePart(raw: string, contentType: string): string | undefined {
  const at = raw.toLowerCase().indexOf(`content-type: ${contentType}`);
  if (at === -1) return undefined;
  const part = raw.slice(at);
  const headerEnd = part.indexOf('\r\n\r\n');
  const headers = part.slice(0, headerEnd).toLowerCase();
  const body = part.slice(headerEnd + 4).split(/\r\n--/)[0] ?? '';
  if (headers.includes('quoted-printable')) return decodeQuotedPrintable(body);
  if (headers.includes('base64')) return Buffer.from(body, 'base64').toString('utf8');
  return body;
}

/** A header's value (first occurrence, unfolded). */
export function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}: (.*)$`, 'im').exec(head);
  return match?.[1];
}
