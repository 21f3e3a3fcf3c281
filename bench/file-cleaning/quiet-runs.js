'use strict';
/**
 * When a run's figures are trusted: everything else on the machine kept fewer than QUIET_CORES
 * cores busy during it. A run whose background load is unknown is not quiet.
 */
const QUIET_CORES = 0.25;

const isQuietRun = (run) => typeof run.backgroundCores === 'number' && run.backgroundCores < QUIET_CORES;

module.exports = { QUIET_CORES, isQuietRun };
