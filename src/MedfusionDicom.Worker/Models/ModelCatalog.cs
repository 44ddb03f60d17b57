using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace MedfusionDicom.Worker.Models;

/// <summary>
/// The models the worker serves, by name. Models are added while the server already runs (it answers health checks
/// while loading), so readers always see a consistent snapshot.
/// </summary>
public sealed class ModelCatalog : IDisposable
{
    private ImmutableSortedDictionary<string, IInferenceModel> _models = ImmutableSortedDictionary<string, IInferenceModel>.Empty.WithComparers(StringComparer.Ordinal);

    public ModelCatalog(IEnumerable<IInferenceModel>? models = null)
    {
        foreach (var m in models ?? []) Add(m);
    }

    public IReadOnlyCollection<IInferenceModel> Models => Volatile.Read(ref _models).Values.ToList();

    public bool TryGet(string name, out IInferenceModel model) => Volatile.Read(ref _models).TryGetValue(name, out model!);

    public void Add(IInferenceModel model)
    {
        ImmutableInterlocked.Update(ref _models, current =>
            current.ContainsKey(model.Descriptor.Name)
                ? throw new InvalidOperationException($"two models are named '{model.Descriptor.Name}'")
                : current.Add(model.Descriptor.Name, model));
    }

    /// <summary>
    /// Loads every sub-folder of <paramref name="directory"/> that one of the loaders recognises. A folder no loader
    /// knows is logged and skipped; a folder that a loader fails on stops the start, since a half-loaded model set
    /// would serve wrong answers under the right names.
    /// </summary>
    public void LoadFrom(string directory, IEnumerable<IModelLoader> loaders, ILogger logger)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model folder {directory} does not exist");
        var loaderList = loaders.ToList();
        foreach (var dir in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            var loader = loaderList.FirstOrDefault(l => l.CanLoad(dir));
            if (loader is null)
            {
                WorkerLog.ModelFolderSkipped(logger, dir);
                continue;
            }
            var model = loader.Load(dir);
            try
            {
                Add(model);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            WorkerLog.ModelLoaded(logger, model.Descriptor.Name, model.Descriptor.TaskName, dir, model.Descriptor.Device);
        }
    }

    public void Dispose()
    {
        foreach (var m in Interlocked.Exchange(ref _models, _models.Clear()).Values) m.Dispose();
    }
}
