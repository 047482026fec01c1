import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM interop.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

const shared: Options = {
  allErrors: true,
  // Unknown properties must fail validation (API.md), never be silently stripped.
  removeAdditional: false,
  useDefaults: true,
  strict: false,
};

function make(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ ...shared, coerceTypes: coerceTypes ? 'array' : false });
  addFormats(ajv);
  return ajv;
}

// Query strings, path params and headers arrive as text and are coerced ("50" → 50); JSON
// bodies are typed already, so a string where a number belongs is a client error.
const textual = make(true);
const body = make(false);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? body : textual;
  return ajv.compile(schema as object);
};
