import { newSecret, sign, verify } from './signature';

describe('webhook signatures', () => {
  const secret = newSecret();
  const body = JSON.stringify({ id: 'e1', type: 'sale.started', createdAt: '2026-01-01T00:00:00.000Z', data: {} });

  it('When a body is signed, then the same secret verifies it and the header has t and v1', () => {
    const header = sign(secret, body);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verify(secret, body, header)).toBe(true);
  });

  it('When the body, the secret or the time differ, then it does not verify', () => {
    const t = Math.floor(Date.now() / 1000);
    const header = sign(secret, body, t);
    expect(verify(secret, `${body} `, header)).toBe(false);
    expect(verify(newSecret(), body, header)).toBe(false);
    expect(verify(secret, body, header, 300, (t + 301) * 1000)).toBe(false);
    expect(verify(secret, body, 'v1=abc')).toBe(false);
  });

  it('When a new secret is made, then it starts whsec_ and differs each time', () => {
    expect(newSecret()).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(newSecret()).not.toBe(newSecret());
  });
});
