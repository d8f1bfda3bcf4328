import { DeadlineExceeded, withDeadline } from './deadline';

describe('withDeadline', () => {
  it('When the work settles in time, then its value or its error comes through', async () => {
    await expect(withDeadline(Promise.resolve(7), 50)).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('boom')), 50)).rejects.toThrow('boom');
  });

  it('When the work outlasts the deadline, then DeadlineExceeded, and its late failure is not unhandled', async () => {
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 40));
    await expect(withDeadline(late, 5)).rejects.toBeInstanceOf(DeadlineExceeded);
    await expect(late).rejects.toThrow('late');
  });
});
