/** The OszError a call throws; anything else it throws, or nothing, fails the test. */
import { OszError } from '../../runtime/errors';

export function refusalOf(fn: () => unknown): OszError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OszError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}
