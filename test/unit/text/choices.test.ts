import * as assert from 'node:assert/strict';
import { optionAsContinuation, parseChoices } from '../../../src/text/choices';

describe('parsing a selection into context and options', () => {
  it('reads lettered options "A) …" and keeps the question as the context', () => {
    const parsed = parseChoices('What is the capital of France?\nA) Paris\nB) Berlin\nC) Madrid');
    assert.equal(parsed.context, 'What is the capital of France?');
    assert.deepEqual(parsed.options, ['Paris', 'Berlin', 'Madrid']);
    assert.deepEqual(parsed.markers, ['A)', 'B)', 'C)']);
    assert.equal(parsed.kind, 'letter');
  });

  it('reads "B. …", "(c) …", numbered "1. …" / "2) …" and bulleted "- …" options', () => {
    assert.deepEqual(parseChoices('Pick one:\nA. red\nB. blue').options, ['red', 'blue']);
    assert.deepEqual(parseChoices('Pick one:\n(a) red\n(b) blue').options, ['red', 'blue']);
    assert.deepEqual(parseChoices('Pick one:\n1. red\n2) blue\n10. green').options, [
      'red',
      'blue',
      'green',
    ]);
    assert.deepEqual(parseChoices('Pick one:\n- red\n* blue\n• green').options, [
      'red',
      'blue',
      'green',
    ]);
    assert.equal(parseChoices('Q\n1. a\n2. b').kind, 'number');
    assert.equal(parseChoices('Q\n- a\n- b').kind, 'bullet');
  });

  it('handles CRLF, indentation, blank lines and an option wrapped onto the next line', () => {
    const parsed = parseChoices(
      '  The chef tasted the soup and\r\n\r\n  A) added more\r\n     salt.\r\n\r\n  B) smiled.\r\n',
    );
    assert.equal(parsed.context, 'The chef tasted the soup and');
    assert.deepEqual(parsed.options, ['added more salt.', 'smiled.']);
  });

  it('keeps the context multi-line and ignores markers of another kind after the options start', () => {
    const parsed = parseChoices('Line one\nLine two\nA) yes\n- also part of A\nB) no');
    assert.equal(parsed.context, 'Line one\nLine two');
    assert.deepEqual(parsed.options, ['yes - also part of A', 'no']);
  });

  it('returns a single option when only one is given', () => {
    const parsed = parseChoices('Is it true?\nA) Yes');
    assert.equal(parsed.context, 'Is it true?');
    assert.deepEqual(parsed.options, ['Yes']);
  });

  it('returns no options and the whole text as context when no line has a marker', () => {
    const parsed = parseChoices('  Just a sentence.\nAnd another.  ');
    assert.deepEqual(parsed, {
      context: 'Just a sentence.\nAnd another.',
      options: [],
      markers: [],
    });
    assert.deepEqual(parseChoices('').options, []);
  });

  it('does not take a word followed by a period for a letter marker', () => {
    assert.deepEqual(parseChoices('Go.\nWe left.').options, []);
  });

  it('gives an option a leading space as an LM continuation', () => {
    assert.equal(optionAsContinuation('Paris'), ' Paris');
  });
});
