using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Notifications.Queue;
using QueueCrashWorker;
using StackExchange.Redis;

// Usage: QueueCrashWorker <redis endpoint> <queue name> <concurrency> <send ms>
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: QueueCrashWorker <redis endpoint> <queue name> <concurrency> <send ms>");
    return 2;
}

var redis = await ConnectionMultiplexer.ConnectAsync(args[0]);
var options = new QueueOptions
{
    Name = args[1],
    Concurrency = int.Parse(args[2], CultureInfo.InvariantCulture),
    Prefetch = 0,
    LeaseDuration = TimeSpan.FromSeconds(2),
    HeartbeatInterval = TimeSpan.FromMilliseconds(500),
    PollInterval = TimeSpan.FromMilliseconds(100),
};
var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
var handler = new RecordingSendHandler(redis.GetDatabase(), new QueueKeys(options.Name), TimeSpan.FromMilliseconds(int.Parse(args[3], CultureInfo.InvariantCulture)));
var consumer = new QueueConsumer(redis, options, handler, TimeProvider.System, new QueueMetrics(meters), NullLogger<QueueConsumer>.Instance);
Console.WriteLine("consuming");
await consumer.RunAsync(CancellationToken.None);
return 0;
