using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AppHost.Backends;

public enum BackendSource
{
    ConnectionString,
    Container,
    Embedded,
}

public sealed record BackendChoice(string Dependency, BackendSource Source, string Detail);

/// <summary>Records which backend each dependency uses so the AppHost log says so at start.</summary>
public sealed class BackendChoices
{
    private readonly List<BackendChoice> _choices = [];

    public IReadOnlyList<BackendChoice> All => _choices;

    public void Record(string dependency, BackendSource source, string detail) =>
        _choices.Add(new BackendChoice(dependency, source, detail));

    public void LogOnStart(IDistributedApplicationBuilder builder)
    {
        builder.Eventing.Subscribe<BeforeStartEvent>((evt, _) =>
        {
            var logger = evt.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AppHost.Backends");
            foreach (var choice in _choices)
            {
                logger.LogInformation("Backend for {Dependency}: {Source} ({Detail})", choice.Dependency, choice.Source, choice.Detail);
            }
            return Task.CompletedTask;
        });
    }
}
