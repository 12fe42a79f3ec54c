using Notifications.Benchmarks;

return args.FirstOrDefault() switch
{
    "store" => await StoreBenchmark.RunAsync(),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Notifications.Benchmarks store");
    return 2;
}
