"""transformers' sdist lacks utils/fetch_hub_objects_for_ci.py: this url_to_local_path stands in, giving every address
back unchanged, since avemo's tests never fetch anything from the hub."""


def url_to_local_path(url, return_url_if_not_found=True):
    return url
