// The reliability tests' worker process: MODE (race, crash or create) and options; see Worker.
return await Allocations.StressWorker.Worker.RunAsync(args);
