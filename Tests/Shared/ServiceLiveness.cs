namespace Notifications.Testing;

/// <summary>Waits for a service started as its own process to answer <c>/alive</c> (ServiceDefaults maps it).</summary>
public static class ServiceLiveness
{
    /// <param name="hasExited">Whether the process has ended: then it never will answer, and the wait stops at once.</param>
    public static async Task WaitAsync(HttpClient http, Func<bool> hasExited, string service, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            if (hasExited())
            {
                throw new InvalidOperationException($"The {service} exited before it answered /alive; see its log.");
            }
            try
            {
                using var response = await http.GetAsync("/alive");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet, or a connection attempt that timed out.
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The {service} did not answer /alive within {limit.TotalSeconds:0} s.");
            }
            await Task.Delay(100);
        }
    }
}
