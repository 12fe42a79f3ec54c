using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Web.Dashboard.Security;

namespace Web.Dashboard.Services;

/// <summary>
/// Reports this process's working set to the Api every 10 seconds. The dashboard has no Redis
/// connection (it sees data only through the Api), so unlike the Api and the worker it cannot write its
/// memory report itself; the Api stores it beside theirs (a report lasts 30 s there), and the overview's
/// application memory then counts all three services against the plan's threshold.
/// </summary>
public sealed partial class DashboardMemoryReporter(HttpClient http, ApiTokenIssuer tokens, TimeProvider time, ILogger<DashboardMemoryReporter> logger)
    : BackgroundService
{
    public const string ServiceName = "web-dashboard";

    /// <summary>The subject of the staff token the reports go with: no person is signed in behind them.</summary>
    public const string ReportingUser = "service:" + ServiceName;

    public static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    /// <summary>Host name and process id, with any character the Api does not take in an instance name replaced by '-'.</summary>
    public static string Instance { get; } = InstanceUnsafe().Replace($"{Environment.MachineName}-{Environment.ProcessId}", "-");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ReportInterval, time);
        do
        {
            try
            {
                await ReportOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The Api being away or slow (a refused connection, the resilience handler's timeout) shows on the
                // overview; a report is not worth stopping the dashboard for. The next tick tries again.
                LogReportFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task ReportOnceAsync(CancellationToken cancellationToken)
    {
        long workingSet;
        using (var process = Process.GetCurrentProcess())
        {
            workingSet = process.WorkingSet64;
        }
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/monitoring/memory/{ServiceName}/{Uri.EscapeDataString(Instance)}")
        {
            Content = JsonContent.Create(new { workingSetBytes = workingSet }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.MintFor(ReportingUser));
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    [System.Text.RegularExpressions.GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial System.Text.RegularExpressions.Regex InstanceUnsafe();

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not report the dashboard's memory to the Api: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}
