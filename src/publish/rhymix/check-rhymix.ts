import { isRhymixError } from './rhymix-error.js';
import { RhymixBoard, type RhymixBoardDeps } from './rhymix-board.js';
import type { RhymixSettings } from './rhymix-settings.js';

/** The outcome of `isw-ko doctor`'s Rhymix check. */
export interface RhymixCheck {
  readonly ok: boolean;
  /** One line on what was found. */
  readonly message: string;
  /** What to do about it; null when all is well. */
  readonly hint: string | null;
}

/**
 * Check that the board can take our posts without posting anything: the site answers as
 * Rhymix/XE, the member logs in, the category exists, and the write page offers this member a
 * form without a captcha. Never throws for board problems: they become `{ ok: false, … }`.
 */
export async function checkRhymix(
  settings: RhymixSettings,
  deps: Pick<RhymixBoardDeps, 'fetch' | 'logger'> = {},
): Promise<RhymixCheck> {
  const where = `board "${settings.mid}" at ${settings.baseUrl}`;
  try {
    const board = await RhymixBoard.connect(settings, deps);
    const form = await board.probeWriteForm();
    if (form.captcha) {
      return {
        ok: false,
        message: `${where} asks member "${settings.userId}" for a captcha: a bot cannot post there`,
        hint: "ask the board's admin to exempt this member from the captcha (spam filter settings) or make it a board manager",
      };
    }
    if (!form.hasForm) {
      return {
        ok: false,
        message: `${where} does not let member "${settings.userId}" write`,
        hint: "give the member the board's write permission (board settings → permissions)",
      };
    }
    const category =
      board.categorySrl === null
        ? 'no category'
        : `category ${settings.category ?? ''} (${board.categorySrl})`;
    return {
      ok: true,
      message: `${where}: logged in as "${settings.userId}", may write, ${category}`,
      hint: null,
    };
  } catch (err) {
    if (!isRhymixError(err)) throw err;
    return { ok: false, message: `${where}: ${err.message}`, hint: err.hint ?? null };
  }
}
