#!/usr/bin/env node
// The CLI entry point: the compiled code lives in dist/ (built by `npm ci` through `prepare`).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
