using Notifications.Benchmarks;
using Notifications.Benchmarks.Chaos;

// One benchmark per argument; each prints its figures and, as its last line, one JSON object.
return args.FirstOrDefault() switch
{
    "queue" => await QueueBenchmark.RunAsync(),
    "store" => await StoreBenchmark.RunAsync(),
    "api" => await ApiBenchmark.RunAsync(),
    "chaos" => await ChaosBenchmark.RunAsync(),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: bench/run.sh <queue|store|api>, bench/chaos.sh");
    return 2;
}
