// Parse an AsyncAPI document with the AsyncAPI Initiative's parser (its JSON Schema of
// the specification, the AMQP bindings' schemas and its Spectral rules) and print one
// JSON line: {"parsed": bool, "errors": [{code, message, path}], "others": n}.
// Exits 0 when it parsed with no error, else 1.
import { Parser } from '@asyncapi/parser';
import fs from 'node:fs';

const ERROR = 0;
const { document, diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[2], 'utf8'));
const errors = diagnostics.filter((d) => d.severity === ERROR)
  .map((d) => ({ code: d.code, message: d.message, path: d.path }));
console.log(JSON.stringify({ parsed: Boolean(document), errors,
                             others: diagnostics.length - errors.length }));
process.exit(document && errors.length === 0 ? 0 : 1);
