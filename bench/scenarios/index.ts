/** The HTTP scenarios in the table's order, and the order they run in within a round. */
import { admitting } from './admitting';
import { hello } from './hello';
import type { HttpScenario, ScenarioId } from './http';
import { naive } from './naive';
import { soldOut } from './sold-out';

export const SCENARIOS: readonly HttpScenario[] = [hello, admitting, soldOut, naive];

export const scenarioOf = (id: ScenarioId): HttpScenario => SCENARIOS.find((s) => s.id === id)!;

/**
 * The order within a round: each ratio's two runs sit next to each other (sold out | hello,
 * hello | admitting, admitting | naive), so the machine's drift between them is the
 * smallest it can be. (In a b b c order, admitting and naive were a run apart, and
 * admitting / naive swung 3.7-6.7 by round.)
 */
export const RUN_ORDER: readonly HttpScenario[] = [soldOut, hello, admitting, naive];
