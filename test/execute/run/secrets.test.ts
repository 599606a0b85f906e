import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSecretSpec, secretsFrom } from '../../../src/execute/run/secrets.js';
import { tempDir } from './support.js';

describe('--secret values (buildx parseSecret)', () => {
  it.each([
    ['id=tok,src=/run/tok', { id: 'tok', src: '/run/tok' }],
    ['id=tok,source=/run/tok', { id: 'tok', src: '/run/tok' }],
    ['id=tok,env=TOKEN', { id: 'tok', env: 'TOKEN' }],
    ['type=env,id=tok,src=TOKEN', { id: 'tok', env: 'TOKEN' }],
    ['type=file,id=tok,src=a/b', { id: 'tok', src: 'a/b' }],
    ['src=/run/secrets/key.pem', { id: 'key.pem', src: '/run/secrets/key.pem' }],
    ['env=GITHUB_TOKEN', { id: 'GITHUB_TOKEN', env: 'GITHUB_TOKEN' }],
    ['id=tok', { id: 'tok' }],
  ])('%s', (value, want) => {
    expect(parseSecretSpec(value)).toEqual(want);
  });

  it.each([
    ['id=tok,bogus=1', 'invalid secret "id=tok,bogus=1": unexpected key "bogus"'],
    ['id=tok,type=ssh', 'invalid secret "id=tok,type=ssh": unsupported type "ssh" (file or env)'],
    ['tok', 'invalid secret "tok": field "tok" must be a key=value pair'],
    ['type=file', 'invalid secret "type=file": an id is required'],
  ])('rejects %s', (value, message) => {
    expect(() => parseSecretSpec(value)).toThrow(message);
  });

  it('reads files and variables when asked, and says what is missing', async () => {
    const dir = await tempDir('secrets');
    await writeFile(join(dir, 'f'), 'from file');
    const provider = secretsFrom([`id=a,src=${join(dir, 'f')}`, 'id=b,env=B_VAR', 'id=C_VAR', 'id=gone,env=NOT_SET', `id=nofile,src=${join(dir, 'missing')}`], {
      B_VAR: 'from env',
      C_VAR: 'implicit env',
    });
    expect(Buffer.from((await provider.get('a'))!).toString()).toBe('from file');
    expect(Buffer.from((await provider.get('b'))!).toString()).toBe('from env');
    expect(Buffer.from((await provider.get('C_VAR'))!).toString()).toBe('implicit env');
    expect(await provider.get('unknown')).toBeUndefined();
    await expect(provider.get('gone')).rejects.toMatchObject({ code: 'RUN_SECRET_UNAVAILABLE', message: 'secret gone: environment variable NOT_SET is not set' });
    await expect(provider.get('nofile')).rejects.toMatchObject({ code: 'RUN_SECRET_UNAVAILABLE' });
  });
});
