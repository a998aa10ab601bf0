"""Packaging for lt_darts_nb: every setting comes from `settings.ini` (nbdev 2 layout).

Unlike nbdev's template this file does not import `pkg_resources` (removed from recent setuptools).
"""
from configparser import ConfigParser
import re
from pathlib import Path
import setuptools

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here/'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

for o in 'version description keywords author author_email'.split():
    assert o in cfg, f'settings.ini is missing `{o}`'

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()
min_python = cfg['min_python']
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
_name = lambda r: re.split(r'[<>=!~;\[ ]', r, maxsplit=1)[0].lower()
extras = {
    'dev': dev_requirements,
    # what the chapters import beside the package (nbdev's show_doc, the explorers' widgets): a chapter's first cell
    # installs `lt_darts_nb[notebooks]` where it is missing (Colab)
    'notebooks': [r for r in dev_requirements if _name(r) in ('nbdev', 'execnb', 'ipywidgets')],
    # torchvision is only needed to download CIFAR from the web and for image grids
    'vision': ['torchvision>=0.19'],
    # the real-browser notebook test (tests/test_browser.py)
    'browser': ['playwright>=1.40'],
    # optional cluster executors of lt_darts_sweep
    'slurm': ['submitit>=1.5'],
    'ray': ['ray>=2.9'],
}
console_scripts = cfg.get('console_scripts', '').split()

setuptools.setup(
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ] + [f'Programming Language :: Python :: {v}' for v in py_versions[py_versions.index(min_python):]]
      + ([f'License :: {lic[1]}'] if lic[1] else []),
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require=extras,
    python_requires='>=' + min_python,
    long_description=(here/'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': console_scripts,
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d'],
    },
    version=cfg['version'], description=cfg['description'], keywords=cfg['keywords'],
    author=cfg['author'], author_email=cfg['author_email'],
)
