// hotloadd's client protocol in TypeScript, for the VS Code extension and
// anything else in Node: no VS Code API here, only node:net and node:fs.
export * from "./address";
export * from "./connection";
export * from "./control";
export * from "./errors";
export * from "./lines";
export type * from "./types";
