// Entry point for the suite that runs in a profile with the default settings (runInCodeServer
// starts a second code-server for it, with HF_ENDPOINT pointing at a Hub stand-in on loopback).
import { runSuite } from '../suite/index';

export function run(): Promise<void> {
  return runSuite(__dirname);
}
