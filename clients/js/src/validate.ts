/**
 * A small validator for the subset of JSON Schema that the pydantic contract generates.
 *
 * Zero dependencies, so the logger stays small. A keyword it does not know is an error when the
 * schema is loaded ({@link assertSupported}): a contract change that needs more fails the build's
 * tests instead of being silently ignored. Messages name the field and the rule, never the value
 * (values carry personal data).
 */

export type JsonSchema = { [keyword: string]: unknown };

// Annotations only: they do not constrain a value.
const ANNOTATIONS = new Set(["title", "description", "default"]);
const ASSERTIONS = new Set([
  "$defs",
  "$ref",
  "oneOf",
  "anyOf",
  "discriminator",
  "type",
  "enum",
  "const",
  "properties",
  "required",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "format",
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 3339 with a mandatory offset: the contract's occurred_at is a timezone-aware datetime.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Throws if the schema uses a keyword this validator does not implement. */
export function assertSupported(schema: unknown, where = "#"): void {
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => assertSupported(item, `${where}/${i}`));
    return;
  }
  if (schema === null || typeof schema !== "object") return;
  for (const [keyword, value] of Object.entries(schema as JsonSchema)) {
    if (ANNOTATIONS.has(keyword) || keyword === "discriminator") continue;
    if (!ASSERTIONS.has(keyword)) throw new Error(`unsupported JSON Schema keyword ${keyword} at ${where}`);
    if (keyword === "properties" || keyword === "$defs") {
      for (const [name, sub] of Object.entries(value as JsonSchema)) assertSupported(sub, `${where}/${keyword}/${name}`);
    } else if (keyword === "oneOf" || keyword === "anyOf") {
      assertSupported(value, `${where}/${keyword}`);
    }
  }
}

// Python counts code points, JavaScript's length UTF-16 units: an emoji is 1 for the contract, 2 here.
// A high surrogate counts with the low surrogate after it; a lone one counts alone.
function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++, n++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) i++;
    }
  }
  return n;
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return false;
  }
}

const patterns = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let compiled = patterns.get(pattern);
  if (!compiled) patterns.set(pattern, (compiled = new RegExp(pattern, "u")));
  return compiled;
}

function resolve(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith("#/")) throw new Error(`only local $ref is supported: ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) node = (node as JsonSchema)[part];
  if (!node || typeof node !== "object") throw new Error(`unresolved $ref ${ref}`);
  return node as JsonSchema;
}

/** The errors of `value` against `schema` (empty when valid), as "field: rule" strings. */
export function validate(root: JsonSchema, value: unknown, schema: JsonSchema = root, path = ""): string[] {
  const at = path || "event";
  if (typeof schema.$ref === "string") return validate(root, value, resolve(root, schema.$ref), path);

  if (Array.isArray(schema.oneOf)) {
    const discriminator = schema.discriminator as { propertyName: string; mapping?: Record<string, string> } | undefined;
    if (discriminator && typeMatches("object", value)) {
      const tag = (value as Record<string, unknown>)[discriminator.propertyName];
      const ref = typeof tag === "string" ? discriminator.mapping?.[tag] : undefined;
      if (!ref) {
        const tags = Object.keys(discriminator.mapping ?? {}).join(", ");
        return [`${discriminator.propertyName}: must be one of ${tags}`];
      }
      return validate(root, value, resolve(root, ref), path);
    }
    const matching = schema.oneOf.filter((s) => validate(root, value, s as JsonSchema, path).length === 0).length;
    return matching === 1 ? [] : [`${at}: must match exactly one schema of oneOf`];
  }
  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf.map((s) => validate(root, value, s as JsonSchema, path));
    if (branches.some((errors) => errors.length === 0)) return [];
    // Report the branch of the value's own type (an Optional's non-null branch), else the first.
    const typed = schema.anyOf.findIndex((s) => typeMatches(String((s as JsonSchema).type), value));
    return branches[typed >= 0 ? typed : 0];
  }

  if (typeof schema.type === "string" && !typeMatches(schema.type, value)) return [`${at}: must be of type ${schema.type}`];
  if ("const" in schema && value !== schema.const) return [`${at}: must be ${JSON.stringify(schema.const)}`];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return [`${at}: must be one of ${schema.enum.join(", ")}`];

  const errors: string[] = [];
  if (typeof value === "string") {
    const length = typeof schema.minLength === "number" || typeof schema.maxLength === "number" ? codePoints(value) : 0;
    if (typeof schema.minLength === "number" && length < schema.minLength)
      errors.push(`${at}: must have at least ${schema.minLength} characters`);
    if (typeof schema.maxLength === "number" && length > schema.maxLength)
      errors.push(`${at}: must have at most ${schema.maxLength} characters`);
    if (typeof schema.pattern === "string" && !regex(schema.pattern).test(value))
      errors.push(`${at}: must match ${schema.pattern}`);
    if (schema.format === "uuid" && !UUID.test(value)) errors.push(`${at}: must be a UUID`);
    if (schema.format === "date-time" && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))))
      errors.push(`${at}: must be a date-time with a timezone`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${at}: must be >= ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) errors.push(`${at}: must be <= ${schema.maximum}`);
  }
  if (schema.properties && typeMatches("object", value)) {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? [])
      if (!(name in object) || object[name] === undefined) errors.push(`${name}: is required`);
    for (const [name, sub] of Object.entries(schema.properties as Record<string, JsonSchema>))
      if (object[name] !== undefined) errors.push(...validate(root, object[name], sub, name));
  }
  return errors;
}
