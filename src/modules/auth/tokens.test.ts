import jwt from 'jsonwebtoken';
import { signToken, verifyToken } from './tokens';

const secret = 'unit-test-secret-0123456789';

describe('verifyToken', () => {
  it('When a token is signed with the secret, then its sub, role and end of validity (exp + 30 s leeway) come back', () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const alice = jwt.sign({ sub: 'alice', role: 'admin', exp }, secret, { algorithm: 'HS256' });
    expect(verifyToken(alice, secret)).toEqual({ userId: 'alice', role: 'admin', validUntilMs: (exp + 30) * 1000 });
    expect(verifyToken(signToken({ sub: 'bob' }, secret), secret)).toMatchObject({ userId: 'bob', role: 'shopper' });
  });
  it('When the token is forged, unsigned (alg none) or uses another algorithm, then it is refused', () => {
    expect(verifyToken(signToken({ sub: 'alice' }, 'another-secret-0123456789'), secret)).toBeNull();
    const none = jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' });
    expect(verifyToken(none, secret)).toBeNull();
    const hs512 = jwt.sign({ sub: 'alice' }, secret, { algorithm: 'HS512', expiresIn: 60 });
    expect(verifyToken(hs512, secret)).toBeNull();
  });
  it('When exp is missing, then the token is refused', () => {
    expect(verifyToken(jwt.sign({ sub: 'alice' }, secret, { algorithm: 'HS256' }), secret)).toBeNull();
  });
  it('When exp passed less than 30 s ago, then it is accepted; longer ago, refused', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifyToken(jwt.sign({ sub: 'a', exp: now - 20 }, secret, { algorithm: 'HS256' }), secret)).not.toBeNull();
    expect(verifyToken(jwt.sign({ sub: 'a', exp: now - 40 }, secret, { algorithm: 'HS256' }), secret)).toBeNull();
  });
  it('When sub is empty, too long or not a string, or role is unknown, then the token is refused', () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const claims of [{ sub: '' }, { sub: 'x'.repeat(129) }, { sub: 42 }, { sub: 'a', role: 'root' }]) {
      expect(verifyToken(jwt.sign({ ...claims, exp }, secret, { algorithm: 'HS256' }), secret)).toBeNull();
    }
  });
});
