import { saleLockKey } from './sale-lock';

describe('saleLockKey', () => {
  it('When given a UUID, then it yields a signed 64-bit integer taken from its first 8 bytes', () => {
    expect(saleLockKey('00000000-0000-0001-0000-000000000000')).toBe('1');
    expect(saleLockKey('ffffffff-ffff-ffff-0000-000000000000')).toBe('-1');
    expect(saleLockKey('7fffffff-ffff-ffff-ffff-ffffffffffff')).toBe('9223372036854775807');
  });
  it('When two UUIDs differ only after the first 8 bytes, then they share a key (documented trade-off)', () => {
    expect(saleLockKey('12345678-9abc-def0-0000-000000000001')).toBe(saleLockKey('12345678-9abc-def0-ffff-000000000002'));
  });
});
