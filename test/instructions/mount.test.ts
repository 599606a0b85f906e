/**
 * `RUN --mount=` and `RUN --device=` values: BuildKit's commands_runmount.go (parseMount) and
 * commands_rundevice.go with its test table (shared/conformance/buildkit-instructions.md
 * § "commands_rundevice_test.go").
 */
import { describe, expect, it } from 'vitest';
import { checkUnexpandedMount, MountSyntaxError, parseDevice, parseMount, type Mount } from '../../src/instructions/mount.js';

const DEFAULTS: Mount = {
  type: 'bind',
  from: '',
  source: '',
  target: '',
  readOnly: true,
  sizeLimit: 0,
  cacheId: '',
  cacheSharing: '',
  required: false,
  env: undefined,
  mode: undefined,
  uid: undefined,
  gid: undefined,
};

function mountError(f: () => unknown): MountSyntaxError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(MountSyntaxError);
    return err as MountSyntaxError;
  }
  throw new Error('expected a MountSyntaxError');
}

describe('parseMount (commands_runmount.go)', () => {
  it.each([
    // Type defaults to bind; read-only is automatic: only cache and tmpfs are writable.
    ['target=/x', { target: '/x' }],
    ['type=bind,target=/x', { target: '/x' }],
    ['type=cache,target=/x', { type: 'cache', target: '/x', readOnly: false }],
    ['type=tmpfs,target=/x', { type: 'tmpfs', target: '/x', readOnly: false }],
    ['type=secret,id=tok', { type: 'secret', cacheId: 'tok' }],
    ['type=ssh', { type: 'ssh' }],
    ['Type=CACHE,Target=/x', { type: 'cache', target: '/x', readOnly: false }], // keys and type in any case
    // Explicit ro/rw, with or without a value (strconv.ParseBool values).
    ['type=bind,target=/x,rw', { target: '/x', readOnly: false }],
    ['type=bind,target=/x,readwrite', { target: '/x', readOnly: false }],
    ['type=cache,target=/x,ro', { type: 'cache', target: '/x', readOnly: true }],
    ['type=cache,target=/x,readonly', { type: 'cache', target: '/x', readOnly: true }],
    ['target=/x,readonly=false', { target: '/x', readOnly: false }],
    ['target=/x,ro=0', { target: '/x', readOnly: false }],
    ['target=/x,rw=F', { target: '/x', readOnly: true }],
    ['type=cache,target=/x,rw=false', { type: 'cache', target: '/x', readOnly: true }],
    ['type=tmpfs,target=/x,readwrite=TRUE', { type: 'tmpfs', target: '/x', readOnly: false }],
    // Aliases.
    ['src=a,dst=/b', { source: 'a', target: '/b' }],
    ['source=a,destination=/b', { source: 'a', target: '/b' }],
    ['type=bind,from=build,source=/out,target=/x', { from: 'build', source: '/out', target: '/x' }],
    // Sharing (cache only), any case.
    ['type=cache,target=/x,sharing=locked', { type: 'cache', target: '/x', readOnly: false, cacheSharing: 'locked' }],
    ['type=cache,target=/x,sharing=PRIVATE,id=go', { type: 'cache', target: '/x', readOnly: false, cacheSharing: 'private', cacheId: 'go' }],
    // Secrets and ssh.
    ['type=secret,target=/run/secrets/x', { type: 'secret', target: '/run/secrets/x' }],
    ['type=secret,src=./tok', { type: 'secret', source: './tok' }],
    ['type=secret,id=tok,env=TOKEN', { type: 'secret', cacheId: 'tok', env: 'TOKEN' }],
    ['type=secret,id=tok,env=', { type: 'secret', cacheId: 'tok', env: '' }],
    ['type=secret,id=tok,required', { type: 'secret', cacheId: 'tok', required: true }],
    ['type=secret,id=tok,required=false', { type: 'secret', cacheId: 'tok', required: false }],
    ['type=ssh,required=true', { type: 'ssh', required: true }],
    // File info: mode (octal), uid and gid (decimal) — secret, ssh and cache only.
    ['type=cache,target=/x,mode=0755,uid=1000,gid=0', { type: 'cache', target: '/x', readOnly: false, mode: 0o755, uid: 1000, gid: 0 }],
    ['type=secret,id=a,mode=400', { type: 'secret', cacheId: 'a', mode: 0o400 }],
    ['type=ssh,uid=4294967295', { type: 'ssh', uid: 4294967295 }],
    // tmpfs size (go-units RAMInBytes).
    ['type=tmpfs,target=/x,size=64m', { type: 'tmpfs', target: '/x', readOnly: false, sizeLimit: 64 * 1024 * 1024 }],
    ['type=tmpfs,target=/x,size=1.5GiB', { type: 'tmpfs', target: '/x', readOnly: false, sizeLimit: 1610612736 }],
    // CSV: quoted fields may hold commas; a later field overrides an earlier one.
    ['"target=/a,b",type=bind', { target: '/a,b' }],
    ['type=cache,type=bind,target=/x', { target: '/x' }],
  ])('%s', (value, fields) => {
    expect(parseMount(value)).toEqual({ ...DEFAULTS, ...fields });
  });

  it.each([
    ['type=bogus', 'unsupported mount type "bogus"', undefined],
    ['type=cahce', 'unsupported mount type "cahce" (did you mean cache?)', 'did you mean cache?'],
    // Suggestions compare case-sensitively: `Bindd` is 2 edits from `bind`.
    ['type=Bindd', 'unsupported mount type "Bindd" (did you mean bind?)', 'did you mean bind?'],
    ['type=cache,sharing=lockd', 'unsupported sharing value "lockd" (did you mean locked?)', 'did you mean locked?'],
    ['type=cache,sharing=none', 'unsupported sharing value "none"', undefined],
    ['type=bind,sharing=shared', 'invalid cache sharing set for bind mount', undefined],
    ['type=tmpfs,sharing=private', 'invalid cache sharing set for tmpfs mount', undefined],
    ['type=secret', 'invalid secret mount. one of source, target required', undefined],
    ['type=secret,from=x,id=a', 'secret mount should not have a from', undefined],
    ['type=secret,id=a,sharing=shared', 'secret mount should not define sharing', undefined],
    ['type=secret,src=a,id=b', "both source and id can't be set", undefined],
    ['type=bind,required', "unexpected key 'required' for mount type 'bind'", undefined],
    ['type=cache,required=true', "unexpected key 'required' for mount type 'cache'", undefined],
    // The type must come first: `required` is checked against the type seen so far.
    ['required,type=secret,id=x', "unexpected key 'required' for mount type 'bind'", undefined],
    ['type=secret,id=x,required=maybe', 'invalid value for required: maybe', undefined],
    ['target=/x,ro=yes', 'invalid value for ro: yes', undefined],
    ['target=/x,readwrite=on', 'invalid value for readwrite: on', undefined],
    ['type=bind,size=1', "unexpected key 'size' for mount type 'bind'", undefined],
    ['type=tmpfs,size=lots', 'invalid value for size: lots', undefined],
    ['type=bind,target=/x,mode=0755', 'mode not allowed for "bind" type mounts', undefined],
    ['type=tmpfs,target=/x,uid=1', 'uid not allowed for "tmpfs" type mounts', undefined],
    ['type=bind,target=/x,gid=1', 'gid not allowed for "bind" type mounts', undefined],
    ['type=cache,mode=8', 'invalid value 8 for mode', undefined],
    ['type=cache,mode=-1', 'invalid value -1 for mode', undefined],
    ['type=cache,uid=-1', 'invalid value -1 for uid', undefined],
    ['type=cache,gid=4294967296', 'invalid value 4294967296 for gid', undefined],
    ['type=cache,uid=0x10', 'invalid value 0x10 for uid', undefined],
    ['target=/x,foo=bar', "unexpected key 'foo' in 'foo=bar' (did you mean from?)", 'did you mean from?'],
    ['target=/x,colour=red', "unexpected key 'colour' in 'colour=red'", undefined],
    ['targte=/x', "unexpected key 'targte' in 'targte=/x' (did you mean target?)", 'did you mean target?'],
    ['type=cache,shareing=locked', "unexpected key 'shareing' in 'shareing=locked' (did you mean sharing?)", 'did you mean sharing?'],
    ['target=/x,foo', "invalid field 'foo' must be a key=value pair", undefined],
    // go-csvvalue errors read as encoding/csv's ParseError (byte columns from 1).
    ['target="/x', 'failed to parse csv mounts: parse error on line 1, column 8: bare " in non-quoted-field', undefined],
    ['target=/x"', 'failed to parse csv mounts: parse error on line 1, column 10: bare " in non-quoted-field', undefined],
    ['type=cache,"target=/x', 'failed to parse csv mounts: parse error on line 1, column 13: extraneous or missing " in quoted-field', undefined],
    ['"target=/é"x', 'failed to parse csv mounts: parse error on line 1, column 12: extraneous or missing " in quoted-field', undefined],
    ['', 'failed to parse csv mounts: EOF', undefined],
  ])('%s → %s', (value, message, suggestion) => {
    const e = mountError(() => parseMount(value));
    expect(e.message).toBe(message);
    expect(e.suggestion).toBe(suggestion);
  });

  it('expands each value (not the keys) with the given expander', () => {
    const env: Record<string, string> = { T: 'cache', D: '/root/.cache', S: 'locked' };
    const expand = (w: string) => w.replace(/\$(\w+)/g, (_, n: string) => env[n] ?? '');
    expect(parseMount('type=$T,target=$D,sharing=$S', expand)).toEqual({
      ...DEFAULTS,
      type: 'cache',
      target: '/root/.cache',
      cacheSharing: 'locked',
      readOnly: false,
    });
    expect(mountError(() => parseMount('type=$X', expand)).message).toBe('unsupported mount type ""');
  });
});

describe('checkUnexpandedMount (parseMount with no expander)', () => {
  it.each([
    'type=$T,target=$D',
    'from=stage$', // a `$` at the very end is no variable
    'from=stage,target=/$X',
    'type=bogus,uid=x,foo', // everything but CSV and `from` waits for expansion
  ])('%s passes', (value) => {
    expect(() => checkUnexpandedMount(value)).not.toThrow();
  });

  it.each([
    ['from=$STAGE', "'from' doesn't support variable expansion, define alias stage instead"],
    ['FROM=a$b', "'from' doesn't support variable expansion, define alias stage instead"],
    ['type=bind,from=${X}', "'from' doesn't support variable expansion, define alias stage instead"],
    ['target=/x,"a"b', 'failed to parse csv mounts: parse error on line 1, column 13: extraneous or missing " in quoted-field'],
  ])('%s → %s', (value, message) => {
    expect(mountError(() => checkUnexpandedMount(value)).message).toBe(message);
  });
});

describe('parseDevice (commands_rundevice_test.go)', () => {
  it.each([
    ['vendor1.com/device=foo', 'vendor1.com/device=foo', false],
    ['vendor1.com/device', 'vendor1.com/device', false],
    ['vendor1.com/device=foo,required', 'vendor1.com/device=foo', true],
    ['vendor1.com/device=foo,required=true', 'vendor1.com/device=foo', true],
    ['vendor1.com/device=foo,required=false', 'vendor1.com/device=foo', false],
    ['name=vendor1.com/device=foo', 'vendor1.com/device=foo', false],
    ['name=vendor1.com/device=foo,required', 'vendor1.com/device=foo', true],
    // Beyond upstream's table.
    ['required,gpu', 'gpu', true],
    ['NAME=gpu,REQUIRED=1', 'gpu', true],
    ['required', '', true],
  ])('%s → name %s, required %s', (value, name, required) => {
    expect(parseDevice(value)).toEqual({ name, required });
  });

  it.each([
    ['vendor1.com/device=foo,name=vendor2.com/device=bar', 'device name already set to vendor1.com/device=foo'],
    ['a,b', "invalid field 'b' must be a key=value pair"],
    ['a,foo=bar', "unexpected key 'foo' in 'foo=bar'"],
    ['a,nme=b', "unexpected key 'nme' in 'nme=b' (did you mean name?)"],
    ['a,required=maybe', 'invalid value for required: maybe'],
    ['"a', 'failed to parse csv devices: parse error on line 1, column 2: extraneous or missing " in quoted-field'],
    ['', 'failed to parse csv devices: EOF'],
  ])('%s → %s', (value, message) => {
    expect(mountError(() => parseDevice(value)).message).toBe(message);
  });
});
