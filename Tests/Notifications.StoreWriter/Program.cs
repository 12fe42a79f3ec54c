using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Notifications.Stores;
using Notifications.Tasks;

// Usage: Notifications.StoreWriter <sqlite file> <writer name> <appends> <shared tasks> <go file>
// Opens the SQLite store, prints "ready", waits for the go file so both writers start together, then
// appends delivery events round-robin to tasks shared with the other writer and, every few appends,
// upserts a small upload of students of its own. Prints "done <first write ms> <last write ms> <students>"
// so the test can check that the writes overlapped in time and count what must be there.
const int AppendsPerUpload = 25;
const int StudentsPerUpload = 10;
if (args.Length != 5)
{
    Console.Error.WriteLine("usage: Notifications.StoreWriter <sqlite file> <writer name> <appends> <shared tasks> <go file>");
    return 2;
}
var invariant = System.Globalization.CultureInfo.InvariantCulture;
var (file, writer, appends, sharedTasks, goFile) = (args[0], args[1], int.Parse(args[2], invariant), int.Parse(args[3], invariant), args[4]);

var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["DocumentStore:Provider"] = "Sqlite",
    ["ConnectionStrings:documents"] = $"Data Source={file}",
});
builder.AddDocumentStore();
using var host = builder.Build();
await host.StartAsync();
var log = host.Services.GetRequiredService<IDeliveryLog>();
var students = host.Services.GetRequiredService<IStudentStore>();

Console.WriteLine("ready");
var waiting = Stopwatch.StartNew();
while (!File.Exists(goFile))
{
    if (waiting.Elapsed > TimeSpan.FromMinutes(2))
    {
        Console.Error.WriteLine("the go file never appeared");
        return 3;
    }
    await Task.Delay(5);
}

var studentsWritten = 0;
var first = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
for (var i = 0; i < appends; i++)
{
    await log.AppendAsync(new DeliveryEvent($"shared-task-{i % sharedTasks}", DeliveryStatus.Sending, DateTimeOffset.UtcNow, NotificationType.Sms, "+15550000000")
    {
        Attempt = i,
        ProviderMessageId = $"{writer}-{i}",
    });
    if (i % AppendsPerUpload == 0)
    {
        var upload = Enumerable.Range(0, StudentsPerUpload)
            .Select(k => new StudentUpsert($"{writer}-{i}-{k}", $"Student {k}", $"s{k}@example.org", "+15550000001"))
            .ToList();
        var counts = await students.UpsertManyAsync(upload);
        studentsWritten += counts.Inserted;
    }
}
var last = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
Console.WriteLine($"done {first} {last} {studentsWritten}");
await host.StopAsync();
return 0;
