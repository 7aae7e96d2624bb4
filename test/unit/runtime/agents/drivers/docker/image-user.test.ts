import { describe, expect, it } from 'vitest';
import { isPlainNumericUser, isRootUser, refuseRootExecUser, resolveExecUser, fileFromTar } from '../../../../../../runtime/agents/drivers/docker/image-user';
import { OszError } from '../../../../../../runtime/errors';

// an image where names hide root: "app" is uid 0, "svc" has gid 0, "member" is in group root
const PASSWD = 'root:x:0:0::/root:/bin/sh\napp:x:0:1000::/:/bin/sh\nsvc:x:1000:0::/:/bin/sh\nmember:x:1001:1001::/:/bin/sh\nok:x:1002:1002::/:/bin/sh\n';
const GROUP = 'root:x:0:member\nwheel:x:0:\nusers:x:1001:\nok:x:1002:ok\n';

function refusal(user: string, passwd: string | undefined = PASSWD, group: string | undefined = GROUP): OszError | undefined {
  try {
    refuseRootExecUser(user, resolveExecUser(user, passwd, group), 'img');
    return undefined;
  } catch (err) {
    return err as OszError;
  }
}

describe('docker runtime.user', () => {
  it('is root from the text alone in either half, however written', () => {
    for (const u of ['root', '0', '000', '0:0', '0:1000', '1000:0', '1000:000', 'app:0', 'root:users', '1000:root', 'root:wheel']) expect(isRootUser(u), u).toBe(true);
    for (const u of ['1000', '61000:61000', 'app', 'nobody', 'svc:users']) expect(isRootUser(u), u).toBe(false);
  });

  it('needs no image only for numeric uid:gid, both non-zero', () => {
    expect(isPlainNumericUser('1000:1000')).toBe(true);
    for (const u of ['1000', 'app', 'app:1000', '1000:users', '1000:0', '0:1000']) expect(isPlainNumericUser(u), u).toBe(false);
  });

  it('refuses names and group-less uids that the image maps to uid 0, gid 0 or group 0', () => {
    expect(refusal('app')?.message).toMatch(/runs as uid 0 in image img/);
    expect(refusal('svc')?.message).toMatch(/runs as gid 0/);
    // a uid without a gid takes the gid of its passwd entry…
    expect(refusal('1000')?.message).toMatch(/runs as gid 0/);
    // …and 0 when it has none, as the engine does
    expect(refusal('4242')?.message).toMatch(/runs as gid 0/);
    expect(refusal('member')?.message).toMatch(/supplementary group 0/);
    expect(refusal('1001')?.message).toMatch(/supplementary group 0/);
    expect(refusal('ok:wheel')?.message).toMatch(/runs as gid 0/);
    for (const u of ['app', 'svc', '1000', 'member', 'ok:wheel']) expect(refusal(u)?.code).toBe('OSZ_E_DRIVER_REFUSED');
  });

  it('accepts what resolves to non-zero ids, with no supplementary group 0 when a group is given', () => {
    expect(resolveExecUser('ok', PASSWD, GROUP)).toEqual({ uid: 1002, gid: 1002, groups: [1002] });
    expect(resolveExecUser('member:users', PASSWD, GROUP)).toEqual({ uid: 1001, gid: 1001, groups: [] });
    expect(resolveExecUser('4242:4242', undefined, undefined)).toEqual({ uid: 4242, gid: 4242, groups: [] });
    for (const u of ['ok', 'member:users', '1002', '4242:4242']) expect(refusal(u), u).toBeUndefined();
  });

  it('refuses what it cannot resolve instead of guessing', () => {
    expect(refusal('ghost')?.message).toMatch(/"ghost" is not in the image's \/etc\/passwd/);
    expect(refusal('app', '', '')?.message).toMatch(/cannot be resolved in image img: user "app" is not in/);
    expect(refusal('ok:ghosts')?.message).toMatch(/group "ghosts" is not in the image's \/etc\/group/);
    expect(refusal(':1000')?.message).toMatch(/empty user name/);
  });

  it('reads the one regular file of an archive tar, nothing else', () => {
    const header = Buffer.alloc(512);
    header.write('passwd', 0);
    header.write('00000000012\0', 124, 'latin1');
    header.write('0', 156);
    const tar = Buffer.concat([header, Buffer.from('ok:x:1:1::\n\0'), Buffer.alloc(1024)]);
    expect(fileFromTar(tar)).toBe('ok:x:1:1::\n\0'.slice(0, 10));
    header.write('2', 156);
    expect(fileFromTar(Buffer.concat([header, Buffer.alloc(1024)]))).toBeUndefined();
    expect(fileFromTar(Buffer.alloc(10))).toBeUndefined();
  });
});
