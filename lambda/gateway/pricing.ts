/**
 * What a request costs, in whole nano-dollars, from the config's price table (USD per million
 * tokens; a token costs `price * 1000` nano-dollars, a whole number since a price has at most 3
 * decimals). Integers all the way, so a budget and the usage ledger add up to the nano-dollar.
 *
 * The table is also the usage ledger's list of models: a request naming a model the table does
 * not list (or none: a session turn, whose model the session keeps) is booked under
 * `OTHER_MODEL` and priced at the table's dearest input and output, so naming an unpriced model
 * can neither grow a key's ledger nor slip past its budget.
 */
import { type ModelPrice, OTHER_MODEL } from '#shared/config';

/** A model's entry: its name in the usage ledger and its nano-dollars per token. */
export interface Price {
  readonly model: string;
  readonly input: number;
  readonly output: number;
}

export class Pricing {
  private readonly table = new Map<string, Price>();
  private readonly other: Price;

  constructor(prices: Readonly<Record<string, ModelPrice>> = {}) {
    let input = 0;
    let output = 0;
    for (const [model, price] of Object.entries(prices)) {
      const entry = {
        model,
        input: Math.round(price.inputPerMillion * 1000),
        output: Math.round(price.outputPerMillion * 1000),
      };
      this.table.set(model, entry);
      input = Math.max(input, entry.input);
      output = Math.max(output, entry.output);
    }
    this.other = { model: OTHER_MODEL, input, output };
  }

  /** The entry of the model a request names; `other` for anything the table does not list. */
  of(model: unknown): Price {
    return (typeof model === 'string' && this.table.get(model)) || this.other;
  }
}

/** Nano-dollars of `input` and `output` tokens; cached input is input (OpenAI counts it in). */
export function costOf(price: Price, input: number, output: number): number {
  return input * price.input + output * price.output;
}
