using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Notifications.Queue;
using QueueCrashWorker;
using StackExchange.Redis;

// Usage: QueueCrashWorker <redis endpoint> <queue name> <concurrency> <complete> <send then hold>
if (args.Length != 5)
{
    Console.Error.WriteLine("usage: QueueCrashWorker <redis endpoint> <queue name> <concurrency> <complete> <send then hold>");
    return 2;
}

int Number(int index) => int.Parse(args[index], CultureInfo.InvariantCulture);

var redis = await ConnectionMultiplexer.ConnectAsync(args[0]);
var options = new QueueOptions
{
    Name = args[1],
    Concurrency = Number(2),
    Prefetch = 0,
    // Long enough that a pause of this process on a loaded machine does not expire its own leases
    // before the test kills it (its own maintenance loop would then recover them under the test).
    LeaseDuration = TimeSpan.FromSeconds(10),
    HeartbeatInterval = TimeSpan.FromSeconds(1),
    PollInterval = TimeSpan.FromMilliseconds(100),
};
var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
var handler = new HoldingSendHandler(redis.GetDatabase(), new QueueKeys(options.Name), complete: Number(3), sendThenHold: Number(4));
var consumer = new QueueConsumer(redis, options, handler, TimeProvider.System, new QueueMetrics(meters), NullLogger<QueueConsumer>.Instance);
Console.WriteLine("consuming");
await consumer.RunAsync(CancellationToken.None);
return 0;
