'use strict';
/**
 * The result type of every task type, as TypeScript text for the client: read with the
 * TypeScript compiler from the `R` of `defineTaskType<P, R>` in the contract sources (the built
 * contracts carry no result at run time), written out structurally so the client depends on no
 * server type. A result travels as JSON: a Date is a string there, a function is dropped.
 */
const path = require('node:path');
const ts = require('typescript');

const ROOT = path.join(__dirname, '..');

function program(files) {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(configPath, ts.sys.readFile).config, ts.sys, ROOT);
  return ts.createProgram(files, { ...config.options, noEmit: true });
}

const key = (name) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name));

/** TypeScript text for `type`, expanded (no names of server types). */
function typeText(checker, type, indent, seen) {
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return 'unknown';
  if (type.flags & ts.TypeFlags.StringLiteral) return JSON.stringify(type.value);
  if (type.flags & ts.TypeFlags.NumberLiteral) return String(type.value);
  if (type.flags & ts.TypeFlags.BooleanLiteral) return checker.typeToString(type);
  if (type.flags & ts.TypeFlags.StringLike) return 'string';
  if (type.flags & ts.TypeFlags.NumberLike) return 'number';
  if (type.flags & ts.TypeFlags.BooleanLike) return 'boolean';
  if (type.flags & ts.TypeFlags.Null) return 'null';
  if (type.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) return 'undefined';
  if (type.isUnion()) {
    const parts = type.types.filter((member) => !(member.flags & ts.TypeFlags.Undefined)).map((member) => typeText(checker, member, indent, seen));
    // `boolean` is the union true | false.
    const unique = [...new Set(parts)];
    const withBoolean = unique.includes('true') && unique.includes('false') ? ['boolean', ...unique.filter((p) => p !== 'true' && p !== 'false')] : unique;
    return withBoolean.map((part) => (part.includes('=>') ? `(${part})` : part)).join(' | ');
  }
  if (checker.isArrayType(type) || checker.isTupleType(type)) {
    const [element] = checker.getTypeArguments(type);
    return `Array<${element ? typeText(checker, element, indent, seen) : 'unknown'}>`;
  }
  if (type.symbol?.name === 'Date') return 'string';
  if (seen.has(type) || seen.size > 12) return 'unknown';
  seen.add(type);
  try {
    const inner = `${indent}  `;
    const lines = [];
    for (const property of checker.getPropertiesOfType(type)) {
      const declaration = property.valueDeclaration ?? property.declarations?.[0];
      // A mapped type's properties have no declaration to read the type at.
      const propertyType = declaration ? checker.getTypeOfSymbolAtLocation(property, declaration) : checker.getTypeOfSymbol(property);
      if (propertyType.getCallSignatures().length > 0) continue;
      const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
      lines.push(`${inner}${key(property.name)}${optional ? '?' : ''}: ${typeText(checker, propertyType, inner, seen)};`);
    }
    const index = checker.getIndexInfosOfType(type)[0];
    if (lines.length === 0) return index ? `Record<string, ${typeText(checker, index.type, indent, seen)}>` : 'Record<string, never>';
    if (index) lines.push(`${inner}[key: string]: ${typeText(checker, index.type, inner, seen)};`);
    return `{\n${lines.join('\n')}\n${indent}}`;
  } finally {
    seen.delete(type);
  }
}

/** Map from task type name to the TypeScript text of its result, for the definitions exported by `contractSources`. */
function resultTypes(contractSources, indent) {
  const built = program(contractSources);
  const checker = built.getTypeChecker();
  const results = new Map();
  for (const file of contractSources) {
    const source = built.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) continue;
    for (const exported of checker.getExportsOfModule(module)) {
      const type = checker.getTypeOfSymbolAtLocation(exported, source);
      const phantom = type.getProperty('__result');
      const name = type.getProperty('type');
      if (!phantom || !name) continue;
      // The declared type name is a string at compile time: read it from the initializer.
      const declaration = exported.valueDeclaration;
      const call = declaration && ts.isVariableDeclaration(declaration) ? declaration.initializer : undefined;
      const argument = call && ts.isCallExpression(call) ? call.arguments[0] : undefined;
      const typeProperty = argument && ts.isObjectLiteralExpression(argument) ? argument.properties.find((p) => p.name?.getText() === 'type') : undefined;
      const literal = typeProperty && ts.isPropertyAssignment(typeProperty) ? typeProperty.initializer : undefined;
      const value = literal && (ts.isStringLiteral(literal) ? literal.text : checker.getTypeAtLocation(literal).value);
      if (typeof value !== 'string') continue;
      const result = checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(phantom, declaration));
      results.set(value, typeText(checker, result, indent, new Set()));
    }
  }
  return results;
}

module.exports = { resultTypes };
