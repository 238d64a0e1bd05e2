/** Exit codes besides 0: a failure, and a stop by signal (as shells report SIGINT). */
export const ExitCode = { failure: 1, interrupted: 130 } as const;
